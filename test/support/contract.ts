// Checks an HTTP answer against the OpenAPI document the server publishes (GET /openapi.json): the
// path and method are described, the status is one the operation documents, the media type is one
// it declares, and a JSON body validates against the declared schema. contract-setup.ts applies it
// to every answer of every supertest request in the test suite, so the document cannot drift.
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { openApiDocument } from '../../src/http/openapi/index.js';

const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as new (
  options: object,
) => import('ajv').default;
const addFormats = addFormatsModule as unknown as (ajv: unknown) => void;

type Json = Record<string, any>;

const doc = openApiDocument() as Json;
const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
// Component schemas under an id of their own; every #/components/schemas/X becomes components#/$defs/X.
const rewrite = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(rewrite);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', 'components#/$defs/') : rewrite(v),
    ]),
  );
};
ajv.addSchema({ $id: 'components', $defs: rewrite(doc.components.schemas) });

const templates = Object.keys(doc.paths as Json).map((template) => ({
  template,
  literal: !template.includes('{'),
  pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));
// Literal paths win over templates.
templates.sort((a, b) => Number(b.literal) - Number(a.literal));

const validators = new Map<string, ValidateFunction>();

function validatorFor(key: string, schema: unknown): ValidateFunction {
  let v = validators.get(key);
  if (!v) {
    v = ajv.compile(rewrite(schema) as object);
    validators.set(key, v);
  }
  return v;
}

const resolveResponse = (response: Json): Json =>
  typeof response?.$ref === 'string'
    ? (doc.components.responses as Json)[response.$ref.replace('#/components/responses/', '')]
    : response;

const isOperationOutcome = (body: unknown): boolean =>
  validatorFor('OperationOutcome', { $ref: '#/components/schemas/OperationOutcome' })(body);

export interface Answer {
  method: string;
  url: string;
  status: number;
  contentType?: string;
  body: unknown;
}

/** What does not agree with the document, or undefined. */
export function contractProblem({ method, url, status, contentType, body }: Answer): string | undefined {
  const verb = method.toLowerCase();
  if (verb === 'options' || verb === 'head') return undefined;
  let path = new URL(url, 'http://localhost').pathname;
  if (path.length > 1) path = path.replace(/\/+$/, '');
  const where = `${method.toUpperCase()} ${path} → ${status}`;
  const found = templates.find((t) => t.pattern.test(path));
  const operation = found ? (doc.paths as Json)[found.template][verb] : undefined;
  if (!operation) {
    // Not an endpoint: the refusal must be one the server gives for any path, as an OperationOutcome.
    const refusals = found ? [401, 403, 404, 405, 429] : [401, 403, 404, 429];
    if (!refusals.includes(status))
      return `${where}: ${found ? `${found.template} has no ${verb} operation` : 'no such path'} in the OpenAPI document`;
    return isOperationOutcome(body) ? undefined : `${where}: the answer is not an OperationOutcome`;
  }
  const responses = operation.responses as Json;
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k]);
  if (!key) return `${where}: status ${status} is not documented for ${verb} ${found!.template}`;
  const response = resolveResponse(responses[key]);
  if (!response.content) return undefined;
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  const media = response.content[type] ?? response.content['*/*'];
  if (!media) return `${where}: Content-Type '${type}' is not one of ${Object.keys(response.content).join(', ')}`;
  if (type !== 'application/json' || !media.schema) return undefined;
  const validate = validatorFor(`${found!.template} ${verb} ${key} ${type}`, media.schema);
  if (validate(body)) return undefined;
  const errors = (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}`)
    .join('; ');
  return `${where}: the body does not match the OpenAPI schema: ${errors}`;
}
