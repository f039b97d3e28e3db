import express, { type RequestHandler, type Response } from 'express';
import { malformedJson, unsupportedMediaType } from '../errors.js';
import { JsonSyntaxError, lineColumnOf, parseLeavingOut } from './json-envelope.js';

// application/json+fhir is the media type of FHIR DSTU2 and STU3, which some EHRs still send.
export const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/json+fhir', 'application/*+json'];

/**
 * Parses JSON bodies (application/json, application/fhir+json, application/json+fhir); anything else is 415.
 * With `keepBytes` (a hook call an evaluation thread is to evaluate), a UTF-8 body is checked to be JSON but its
 * top-level `prefetch` is not built: req.body holds the rest, res.locals.rawBody the bytes, for the thread to
 * parse. A body in another charset is parsed whole, as without `keepBytes`.
 */
export function jsonBody(limitBytes: number, { keepBytes = false }: { keepBytes?: boolean } = {}): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    if (!req.is(JSON_TYPES)) {
      next(unsupportedMediaType(req.headers['content-type'] ? String(req.headers['content-type']) : undefined));
      return;
    }
    next();
  };
  const json = express.json({ limit: limitBytes, type: JSON_TYPES, strict: true });
  if (!keepBytes) return [requireJson, json];
  const raw = express.raw({ limit: limitBytes, type: JSON_TYPES });
  const envelope: RequestHandler = (req, res, next) => {
    const bytes: unknown = req.body;
    if (!Buffer.isBuffer(bytes)) return next();
    // As express.json: an empty body is an empty object.
    if (bytes.length === 0) {
      req.body = {};
      return next();
    }
    try {
      req.body = parseLeavingOut(bytes, 'prefetch');
    } catch (err) {
      return next(err instanceof JsonSyntaxError ? malformedJson(lineColumnOf(bytes, err.offset)) : err);
    }
    res.locals.rawBody = bytes;
    next();
  };
  const read: RequestHandler = (req, res, next) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(String(req.headers['content-type'] ?? ''))?.[1];
    if (charset !== undefined && !/^utf-8$/i.test(charset)) return json(req, res, next);
    void raw(req, res, (err?: unknown) => (err ? next(err) : envelope(req, res, next)));
  };
  return [requireJson, read];
}

/** A JSON body that may also be left out: an empty request is let through, any other media type is 415. */
export function optionalJsonBody(limitBytes: number): RequestHandler[] {
  const requireJsonIfAny: RequestHandler = (req, res, next) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (hasBody && !req.is(JSON_TYPES)) return jsonBody(limitBytes)[0](req, res, next);
    next();
  };
  return [requireJsonIfAny, express.json({ limit: limitBytes, type: JSON_TYPES, strict: true })];
}

/**
 * Answers `body` as res.json does with this app's settings (no JSON spaces, replacer or escaping, no ETag), with the
 * same bytes and headers, in one pass: the text is stringified once and written as it is, where res.send would make
 * a Buffer of it first (of any answer over 1,000 characters) to count its length.
 */
export function sendJson(res: Response, body: unknown): void {
  const text = JSON.stringify(body);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
