import express, { type RequestHandler, type Response } from 'express';
import iconv from 'iconv-lite';
import { bodyNotAnObject, jsonTooDeep, malformedJson, unsupportedMediaType } from '../errors.js';
import { MAX_JSON_DEPTH, tooDeepAt } from '../json-depth.js';
import { JsonSyntaxError, JsonTooDeepError, lineColumnOf, parseLeavingOut } from './json-envelope.js';

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
  const json = jsonParser(limitBytes);
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
      if (err instanceof JsonSyntaxError)
        return next(isJsonScalar(bytes) ? bodyNotAnObject() : malformedJson(lineColumnOf(bytes, err.offset)));
      if (err instanceof JsonTooDeepError) return next(jsonTooDeep(MAX_JSON_DEPTH, lineColumnOf(bytes, err.offset)));
      return next(err);
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
  return [requireJsonIfAny, jsonParser(limitBytes)];
}

/**
 * express.json, refusing a body that nests deeper than MAX_JSON_DEPTH before it is parsed (a UTF-8 body by its
 * bytes; one in another charset by its text).
 */
function jsonParser(limitBytes: number): RequestHandler {
  return express.json({
    limit: limitBytes,
    type: JSON_TYPES,
    strict: true,
    verify: (_req, _res, buf, encoding) => {
      const utf8 = /^utf-?8$/i.test(encoding);
      // Decoded as the parser will decode it (iconv-lite, as body-parser does: UTF-16 by its byte order mark,
      // UTF-32, UTF-7), so that no charset carries a body past the check; body-parser refused unknown ones already.
      const text = utf8 ? buf.toString('latin1') : iconv.decode(buf, encoding);
      const at = tooDeepAt(text);
      if (at < 0) return;
      const bytes = utf8 ? buf : new TextEncoder().encode(text);
      throw jsonTooDeep(MAX_JSON_DEPTH, lineColumnOf(bytes, utf8 ? at : Buffer.byteLength(text.slice(0, at))));
    },
  });
}

/**
 * Whether a body the strict parse refused is JSON all the same, a string, number, boolean or null (`null`, `"x"`):
 * its answer says that, not that it is not JSON. Only a short body is tried (a scalar is rarely long).
 */
export function isJsonScalar(body: Uint8Array | string): boolean {
  if (body.length > 4096) return false;
  try {
    const value: unknown = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
    return value === null || typeof value !== 'object';
  } catch {
    return false;
  }
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
