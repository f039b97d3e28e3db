import type { Request, RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import { isKnownServiceId, requestPath, type CallObserver } from './call.js';

/**
 * One JSON line per request: method, path, status, duration. Never a body. Hook calls are logged by
 * accessLogObserver from their call object (with service id and hookInstance), all others here.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.locals.logger = logger;
    res.locals.receivedAt = performance.now();
    // 'close' comes for answered calls and for calls the client gave up on (logged as 499).
    res.on('close', () => {
      if (res.locals.call) return;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info('request', {
        method: req.method,
        path: loggablePath(req),
        status: res.writableFinished ? res.statusCode : 499,
        durationMs: round(durationMs),
        ...(res.locals.feedbackServiceId ? { serviceId: res.locals.feedbackServiceId } : {}),
      });
    });
    next();
  };
}

/** The access line of a hook call. */
export function accessLogObserver(logger: Logger): CallObserver {
  return {
    finished({ call, status, durationMs }) {
      logger.info('request', {
        method: call.method,
        path: call.path,
        status,
        durationMs: round(durationMs),
        ...(isKnownServiceId(call.knowledge, call.serviceId) ? { serviceId: call.serviceId } : {}),
        ...(call.hookInstance ? { hookInstance: call.hookInstance } : {}),
      });
    },
  };
}

/**
 * The path as a log line may carry it: a matched route by its pattern (`/admin/explain/:card`), so
 * that no value of a path parameter (a card uuid, whatever a caller put there) is logged; a path no route
 * matched by its first segment only.
 */
function loggablePath(req: Request): string {
  const path = requestPath(req.originalUrl);
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  const segments = path.split('/');
  if (typeof pattern !== 'string') return segments.length > 2 ? `/${segments[1]}/…` : path;
  const tail = pattern.split('/').filter(Boolean);
  if (tail.length >= segments.length) return pattern;
  return [...segments.slice(0, segments.length - tail.length), ...tail].join('/');
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
