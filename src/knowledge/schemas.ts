import type { ErrorObject, ValidateFunction } from 'ajv';
import { createAjv, readSchema, schemaPointerProblems, type SchemaWording } from '../json-schema.js';
import type { Problem } from './files.js';

const ajv = createAjv();

export const validateServiceCatalogue: ValidateFunction = ajv.compile(readSchema('cds-services.schema.json'));
export const validateRuleSetFile: ValidateFunction = ajv.compile(readSchema('rule-set.schema.json'));

const wording: SchemaWording = {
  // A condition is one of several shapes: what is wrong with each says more than "matches none of them".
  skip: (e) => e.keyword === 'oneOf',
  // Knowledge files name a wrong value with ajv's words, then the values allowed.
  text(e) {
    if (e.keyword !== 'enum') return undefined;
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
    return `${e.message ?? 'invalid value'}: ${allowed.join(', ')}`;
  },
};

/** One schema error of a knowledge file in words, without where (the pointer says that). */
export function describeAjvError(e: ErrorObject): string {
  return schemaPointerProblems([e], wording)[0]?.message ?? e.message ?? 'is invalid';
}

/** A knowledge file's schema errors as problems, each at its JSON pointer. */
export function schemaProblems(file: string, errors: ErrorObject[] | null | undefined): Problem[] {
  return schemaPointerProblems(errors, wording).map(({ pointer, message }) => ({
    file,
    pointer,
    message,
    severity: 'error',
  }));
}
