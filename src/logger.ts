import { format } from 'node:util';
import winston from 'winston';

export type Logger = winston.Logger;

/** JSON lines on stdout. Callers never pass patient data: ids of services and hook instances only. */
export function createLogger(level: string, silent = false): Logger {
  return winston.createLogger({
    level,
    silent,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/**
 * Libraries print to the console (the UCUM library on a unit it cannot parse, for one): their lines
 * would break the JSON log stream, and may quote request data. They become debug lines instead.
 * console.error is left alone: it is for the operator, before the logger exists.
 */
export function routeConsoleTo(logger: Logger): void {
  for (const method of ['log', 'info', 'debug', 'warn'] as const) {
    console[method] = (...args: unknown[]) => {
      logger.debug('library console output', { text: format(...args).slice(0, 500) });
    };
  }
}

/**
 * A promise rejected with no handler is a bug, but one call's (a report's query failing while another was
 * awaited, say): Node 20 would end the process, and every EHR's calls with it. It is logged, by the error's name
 * and code only (a database's message may quote a value), and the server goes on.
 */
export function logUnhandledRejections(logger: Logger): (reason: unknown) => void {
  const onRejection = (reason: unknown): void => {
    const code = (reason as { code?: unknown } | null)?.code;
    logger.error('unhandled rejection: the server goes on', {
      error: reason instanceof Error ? reason.name : typeof reason,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    });
  };
  process.on('unhandledRejection', onRejection);
  return onRejection;
}
