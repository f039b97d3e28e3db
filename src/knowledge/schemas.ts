import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { Problem } from './files.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function loadSchema(name: string): object {
  return JSON.parse(readFileSync(join(packageRoot(), 'schemas', name), 'utf8')) as object;
}

// verbose: errors carry their schema, whose description says what a pattern stands for.
const ajv = addFormats(new Ajv({ allErrors: true, strict: false, verbose: true }));

export const validateServiceCatalogue: ValidateFunction = ajv.compile(loadSchema('cds-services.schema.json'));
export const validateRuleSetFile: ValidateFunction = ajv.compile(loadSchema('rule-set.schema.json'));

export function schemaProblems(file: string, errors: ErrorObject[] | null | undefined): Problem[] {
  return (errors ?? [])
    .filter((e) => e.keyword !== 'if' && e.keyword !== 'oneOf')
    .map((e) => ({ file, pointer: e.instancePath || '/', message: describeAjvError(e), severity: 'error' as const }));
}

export function describeAjvError(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return `missing required property '${(e.params as { missingProperty: string }).missingProperty}'`;
    case 'additionalProperties':
      return `unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    case 'enum':
      return `${e.message ?? 'invalid value'}: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).join(', ')}`;
    case 'pattern': {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      return description ? `must be ${description}` : (e.message ?? 'invalid');
    }
    default:
      return e.message ?? 'invalid';
  }
}
