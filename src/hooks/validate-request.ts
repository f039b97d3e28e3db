import type { ValidateFunction } from 'ajv';
import { badRequest, type Issue } from '../errors.js';
import { createAjv, schemaIssues } from '../json-schema.js';
import { HOOKS } from './catalogue.js';
import type { HookRequest } from './types.js';

const ajv = createAjv();

// Never additionalProperties: false on requests: hooks and the spec add optional fields over time.
/** The envelope of every hook request (the context is checked per hook: HOOKS). Also in the OpenAPI document. */
export const HOOK_REQUEST_SCHEMA = {
  type: 'object',
  required: ['hook', 'hookInstance', 'context'],
  properties: {
    hook: { type: 'string', minLength: 1 },
    hookInstance: { type: 'string', minLength: 1, maxLength: 256 },
    fhirServer: { type: 'string', format: 'uri', pattern: '^https?://', description: 'an http(s) URL' },
    fhirAuthorization: {
      type: 'object',
      required: ['access_token', 'token_type', 'expires_in', 'scope', 'subject'],
      properties: {
        access_token: { type: 'string', minLength: 1 },
        token_type: { type: 'string', pattern: '^[Bb][Ee][Aa][Rr][Ee][Rr]$', description: 'Bearer' },
        expires_in: { type: 'integer' },
        scope: { type: 'string' },
        subject: { type: 'string' },
        patient: { type: 'string' },
      },
    },
    context: { type: 'object' },
    prefetch: { type: 'object' },
    extension: { type: 'object' },
  },
  dependencies: { fhirAuthorization: ['fhirServer'] },
};

const validateEnvelope: ValidateFunction = ajv.compile(HOOK_REQUEST_SCHEMA);
const contextValidators = new Map<string, ValidateFunction>(
  Object.values(HOOKS).map((h) => [h.name, ajv.compile(h.context)]),
);

/** What a message quotes of a value the caller sent: at most 100 characters of it (an answer is not an echo). */
const shown = (value: string): string => (value.length > 100 ? `${value.slice(0, 100)}…` : value);

/** Validates a service call body for the hook this service serves; every problem is reported at once. */
export function validateHookRequest(body: unknown, servedHooks: string[]): HookRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object');
  }
  // Every problem at once: the envelope, then the context of the hook named (when it is one served here).
  const issues: Issue[] = validateEnvelope(body) ? [] : schemaIssues(validateEnvelope.errors, '');
  const request = body as HookRequest;
  if (typeof request.hook === 'string' && request.hook.length > 0 && !servedHooks.includes(request.hook)) {
    issues.push({
      severity: 'error',
      code: 'not-supported',
      diagnostics: `hook '${shown(request.hook)}' is not served by this service (it serves ${servedHooks.join(', ')})`,
      expression: ['hook'],
    });
  }
  const validateContext = servedHooks.includes(request.hook) ? contextValidators.get(request.hook) : undefined;
  const contextIsObject = !!request.context && typeof request.context === 'object' && !Array.isArray(request.context);
  if (validateContext && contextIsObject && !validateContext(request.context)) {
    issues.push(...schemaIssues(validateContext.errors, 'context'));
  }
  if (issues.length > 0) throw invalid(issues);
  if (request.hook === 'order-select') checkSelections(request);
  return request;
}

function checkSelections(request: HookRequest): void {
  const bundle = request.context.draftOrders as {
    entry?: Array<{ resource?: { resourceType?: string; id?: string } }>;
  };
  const drafted = new Set((bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`));
  const issues: Issue[] = [];
  (request.context.selections as string[]).forEach((ref, i) => {
    if (!drafted.has(ref)) {
      issues.push({
        severity: 'error',
        code: 'invalid',
        diagnostics: `selection '${shown(ref)}' is not among context.draftOrders`,
        expression: [`context.selections[${i}]`],
      });
    }
  });
  if (issues.length > 0) throw invalid(issues);
}

function invalid(issues: Issue[]) {
  return badRequest(issues.map((i) => `${i.expression?.[0] ?? 'request'}: ${i.diagnostics}`).join('; '), { issues });
}
