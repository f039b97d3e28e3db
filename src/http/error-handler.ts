import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  bodyNotAnObject,
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
import { isJsonScalar } from './json-body.js';

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
  body?: string;
}

/**
 * The one place errors become responses: always a JSON OperationOutcome, never a stack trace. The answer may
 * quote what the caller sent (an id, a date); the log line never does: it is built from the status, the code,
 * the locations the issues name and, for a failure of the server, what the error marks as loggable (a failed CQL
 * evaluation: where in the CQL) and its cause's type and stack frames.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const error = toCdsError(err);
    const log = res.locals.logger ?? logger;
    const where = locations(error);
    if (error.status >= 500) {
      log.error('request failed', {
        status: error.status,
        code: error.code,
        ...(where.length > 0 ? { at: where } : {}),
        ...error.logged,
        ...failure(err instanceof CdsError ? error.cause : err),
      });
    } else {
      log.info('request rejected', {
        status: error.status,
        code: error.code,
        ...(where.length > 0 ? { at: where } : {}),
      });
    }
    if (res.headersSent) return;
    res.status(error.status).type('application/json').json(error.toOperationOutcome());
  };
}

/** The places the issues name (e.g. `context.selections[0]`), each once, at most 20. */
function locations(error: CdsError): string[] {
  return [...new Set(error.issues.flatMap((i) => i.expression ?? []))].slice(0, 20);
}

/**
 * What failed, as far as a log line may say: the error's type and where in the code it was thrown. Its
 * message is left out: the CQL engine's, a driver's or a library's own may quote the data it failed on.
 */
function failure(err: unknown): Record<string, unknown> {
  if (err === undefined) return {};
  if (!(err instanceof Error)) return { error: typeof err };
  const frames = (err.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 8)
    .map((line) => line.trim());
  // A system or driver error code (ECONNREFUSED, SQLITE_BUSY, 57P01) names what happened, never a value.
  const code = (err as { code?: unknown }).code;
  return {
    error: err.name,
    ...(typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? { errorCode: code } : {}),
    ...(frames.length > 0 ? { stack: frames } : {}),
  };
}

function toCdsError(err: unknown): CdsError {
  if (err instanceof CdsError) return err;
  const e = err as BodyParserError;
  switch (e?.type) {
    case 'entity.parse.failed': {
      if (typeof e.body === 'string' && isJsonScalar(e.body)) return bodyNotAnObject();
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

export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => next(noSuchEndpoint(req.method, req.path));
}

export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (req, res, next) => {
    res.setHeader('Allow', allowed.join(', '));
    // The whole path: a mounted router's req.path lacks its mount point (/uptake, /admin).
    next(wrongMethod(req.method, req.baseUrl + req.path, allowed));
  };
}
