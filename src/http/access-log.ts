import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';

/** One JSON line per request: method, path, status, duration, service id and hookInstance. Never a body. */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.locals.logger = logger;
    // 'close' comes for answered calls and for calls the client gave up on (logged as 499).
    res.on('close', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      logger.info('request', {
        method: req.method,
        path: req.path,
        status: res.writableFinished ? res.statusCode : 499,
        durationMs: Math.round(durationMs * 10) / 10,
        ...(res.locals.serviceId ? { serviceId: res.locals.serviceId } : {}),
        ...(res.locals.hookInstance ? { hookInstance: res.locals.hookInstance } : {}),
      });
    });
    next();
  };
}
