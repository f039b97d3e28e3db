// What every route group shares: the OperationOutcome every error is, and the error answers by status.
import type { Schema } from './types.js';

export const OPERATION_OUTCOME: Schema = {
  type: 'object',
  description: 'Every error: a FHIR OperationOutcome whose issues say what was wrong and where',
  required: ['resourceType', 'issue'],
  properties: {
    resourceType: { const: 'OperationOutcome' },
    issue: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['severity', 'code', 'diagnostics'],
        properties: {
          severity: { enum: ['fatal', 'error', 'warning', 'information'] },
          code: { type: 'string', description: 'FHIR issue type, e.g. invalid, required, not-found, login' },
          diagnostics: { type: 'string' },
          expression: { type: 'array', items: { type: 'string' }, description: 'where, e.g. context.patientId' },
        },
      },
    },
  },
};

const RETRY_AFTER = {
  'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } },
};

/** The error answers, by status. */
export const ERROR_RESPONSES: Record<number, { description: string; headers?: Record<string, unknown> }> = {
  400: { description: 'malformed JSON, a missing or malformed field or parameter (each named)' },
  401: { description: 'no valid credentials: the EHR JWT on CDS Hooks calls, an admin key elsewhere' },
  403: { description: 'an admin key without the role the path needs' },
  404: { description: 'unknown service, card, experiment or path' },
  405: { description: 'wrong method; the Allow header says which', headers: { Allow: { schema: { type: 'string' } } } },
  412: { description: 'a prefetch key the service needs is missing and cannot be fetched from fhirServer' },
  413: { description: 'the body is larger than CDS_BODY_LIMIT' },
  415: { description: 'the body is not application/json, application/fhir+json or application/json+fhir' },
  422: {
    description:
      'the new knowledge was refused (every problem listed), or a hook call holds more FHIR resources than CDS_MAX_RESOURCES_PER_CALL',
  },
  429: { description: 'too many requests this minute', headers: RETRY_AFTER },
  500: { description: 'anything unexpected; logged with detail, answered without it' },
  503: {
    description: 'the server is still starting, or the service (or the uptake ledger) is not available',
    headers: RETRY_AFTER,
  },
};

export function errorComponents(): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(ERROR_RESPONSES).map(([status, r]) => [
      `Error${status}`,
      {
        description: r.description,
        ...(r.headers ? { headers: r.headers } : {}),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/OperationOutcome' } } },
      },
    ]),
  );
}
