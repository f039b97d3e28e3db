import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  bodyTooLarge,
  CdsError,
  internalError,
  malformedJson,
  noSuchEndpoint,
  requestAborted,
  unreadableRequest,
  unsupportedEncoding,
  wrongMethod,
} from '../errors.js';
import type { Logger } from '../logger.js';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
  body?: string;
}

/** The one place errors become responses: always a JSON OperationOutcome, never a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const error = toCdsError(err);
    const log = res.locals.logger ?? logger;
    if (error.status >= 500) {
      log.error('request failed', {
        code: error.code,
        reason: error.message,
        detail: error.internal ?? (err instanceof CdsError ? undefined : describeUnknown(err)),
      });
    } else {
      log.info('request rejected', { status: error.status, code: error.code, reason: error.message });
    }
    if (res.headersSent) return;
    res.status(error.status).type('application/json').json(error.toOperationOutcome());
  };
}

function toCdsError(err: unknown): CdsError {
  if (err instanceof CdsError) return err;
  const e = err as BodyParserError;
  switch (e?.type) {
    case 'entity.parse.failed': {
      // The parser's message can quote the body (patient data): report the position only.
      const position = /position (\d+)/.exec(e.message ?? '');
      return malformedJson(
        position && typeof e.body === 'string' ? lineColumn(e.body, Number(position[1])) : undefined,
      );
    }
    case 'entity.too.large':
      return bodyTooLarge(e.limit);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return unsupportedEncoding();
    case 'request.aborted':
      return requestAborted();
    default:
      if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return unreadableRequest(e.status);
      return internalError();
  }
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `line ${before.split('\n').length}, column ${offset - before.lastIndexOf('\n')}`;
}

function describeUnknown(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack ?? ''}`;
  return String(err);
}

export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => next(noSuchEndpoint(req.method, req.path));
}

export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Allow', allowed.join(', '));
    next(wrongMethod(req.method, req.path, allowed));
  };
}
