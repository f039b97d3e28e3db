import express, { type RequestHandler } from 'express';
import { unsupportedMediaType } from '../errors.js';

const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/*+json'];

/** Parses JSON bodies (application/json and application/fhir+json); anything else is 415. */
export function jsonBody(limitBytes: number): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    if (!req.is(JSON_TYPES)) {
      next(unsupportedMediaType(req.headers['content-type'] ? String(req.headers['content-type']) : undefined));
      return;
    }
    next();
  };
  return [requireJson, express.json({ limit: limitBytes, type: JSON_TYPES, strict: true })];
}
