import type { ErrorRequestHandler, RequestHandler } from 'express';
import { CdsError } from '../errors.js';
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
      log.error('request failed', { code: error.code, reason: error.message, detail: error.internal ?? (err instanceof CdsError ? undefined : describeUnknown(err)) });
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
      const where = position && typeof e.body === 'string' ? ` (${lineColumn(e.body, Number(position[1]))})` : '';
      return new CdsError(400, 'malformed-json', `the request body is not valid JSON${where}`);
    }
    case 'entity.too.large':
      return new CdsError(413, 'body-too-large', `the request body is larger than the limit of ${e.limit} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new CdsError(415, 'unsupported-encoding', 'the request body encoding or charset is not supported; send UTF-8 JSON');
    case 'request.aborted':
      return new CdsError(400, 'request-aborted', 'the request was aborted by the client');
    default:
      if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return new CdsError(e.status, 'bad-request', 'the request could not be read');
      return new CdsError(500, 'internal-error', 'an unexpected error occurred; it has been logged');
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
  return (req, _res, next) => next(new CdsError(404, 'not-found', `no such endpoint: ${req.method} ${req.path}`));
}

export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Allow', allowed.join(', '));
    next(new CdsError(405, 'method-not-allowed', `${req.method} is not allowed on ${req.path}; use ${allowed.join(' or ')}`));
  };
}
