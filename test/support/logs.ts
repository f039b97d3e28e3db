import { Writable } from 'node:stream';
import winston from 'winston';

export interface CapturedLogs {
  logger: winston.Logger;
  lines: Array<Record<string, unknown>>;
  text: () => string;
}

/** A logger at debug level whose every line is kept for the test to search. */
export function captureLogs(): CapturedLogs {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines, text: () => JSON.stringify(lines) };
}
