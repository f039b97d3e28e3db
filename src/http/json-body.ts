import type { ServerResponse } from 'node:http';
import express, { type RequestHandler, type Response } from 'express';
import { unsupportedMediaType } from '../errors.js';

// application/json+fhir is the media type of FHIR DSTU2 and STU3, which some EHRs still send.
export const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/json+fhir', 'application/*+json'];

/**
 * Parses JSON bodies (application/json, application/fhir+json, application/json+fhir); anything else is 415.
 * With `keepBytes`, a UTF-8 body's bytes are kept too (res.locals.rawBody), for an evaluation thread.
 */
export function jsonBody(limitBytes: number, { keepBytes = false }: { keepBytes?: boolean } = {}): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    if (!req.is(JSON_TYPES)) {
      next(unsupportedMediaType(req.headers['content-type'] ? String(req.headers['content-type']) : undefined));
      return;
    }
    next();
  };
  const verify = keepBytes
    ? (_req: unknown, res: ServerResponse, buf: Buffer, encoding: string) => {
        if (/^utf-?8$/i.test(encoding)) (res as Response).locals.rawBody = buf;
      }
    : undefined;
  return [requireJson, express.json({ limit: limitBytes, type: JSON_TYPES, strict: true, verify })];
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
