// The one way JSON Schemas are compiled here, and the one way their errors are put into words: as
// OperationOutcome issues for requests, as messages at a JSON pointer for files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { isDateTime } from './calendar.js';
import type { Issue } from './errors.js';
import { packageRoot } from './paths.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Every error at once (allErrors); keywords such as description are allowed (strict off); verbose, so that
 * an error carries its schema, whose description says what a pattern stands for; formats (uri, date-time).
 */
export function createAjv(): Ajv {
  const ajv = addFormats(new Ajv({ allErrors: true, strict: false, verbose: true }));
  // Date-times are read by the one calendar-checking reader, in schemas as everywhere else.
  return ajv.addFormat('date-time', { type: 'string', validate: isDateTime });
}

/** A schema shipped in the package's schemas/ folder. */
export function readSchema(name: string): object {
  return JSON.parse(readFileSync(join(packageRoot(), 'schemas', name), 'utf8')) as object;
}

/** What a schema says in its own words, where the usual ones would not do. */
export interface SchemaWording {
  /** Leaves an error out: one the others already say better. */
  skip?: (e: ErrorObject) => boolean;
  /** What is wrong, said after where (e.g. "must not contain control characters"); undefined: the usual words. */
  text?: (e: ErrorObject) => string | undefined;
}

type Errors = ErrorObject[] | null | undefined;

/** One error in words. */
interface Finding {
  code: 'required' | 'invalid';
  /** JSON pointer of the value at fault (ajv's instancePath). */
  pointer: string;
  /** For an error about one property of that value (missing, not allowed): an issue names the property itself. */
  property?: string;
  /** What is wrong, after where: about the property when there is one ("is required"). */
  text: string;
  /** The same at the value itself, as a file says it, since a pointer cannot name what is not there. */
  atValue?: string;
}

function usualWords(e: ErrorObject): Finding {
  const params = e.params as Record<string, unknown>;
  const at = { code: 'invalid' as const, pointer: e.instancePath };
  switch (e.keyword) {
    case 'required': {
      const property = String(params.missingProperty);
      const atValue = `missing required property '${property}'`;
      return { ...at, code: 'required', property, text: 'is required', atValue };
    }
    case 'dependencies': {
      const [property, when] = [String(params.missingProperty), String(params.property)];
      const atValue = `missing required property '${property}' (needed when '${when}' is given)`;
      return { ...at, code: 'required', property, text: `is required when ${when} is given`, atValue };
    }
    case 'additionalProperties': {
      const property = String(params.additionalProperty);
      return { ...at, property, text: 'is not allowed', atValue: `unknown property '${property}'` };
    }
    case 'enum':
      return { ...at, text: `must be one of ${((params.allowedValues as unknown[] | undefined) ?? []).join(', ')}` };
    case 'const':
      return { ...at, text: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'format':
      return { ...at, text: `must be a ${String(params.format)}` };
    case 'pattern': {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      return { ...at, text: description ? `must be ${description}` : (e.message ?? 'is invalid') };
    }
    default:
      return { ...at, text: e.message ?? 'is invalid' };
  }
}

function findings(errors: Errors, wording: SchemaWording): Finding[] {
  const out: Finding[] = [];
  for (const e of errors ?? []) {
    // An if's then or else says what is wrong; the if itself only says which did not match.
    if (e.keyword === 'if' || wording.skip?.(e)) continue;
    const finding = usualWords(e);
    const own = wording.text?.(e);
    out.push(own === undefined ? finding : { ...finding, text: own, atValue: own });
  }
  return out;
}

/**
 * ajv errors as OperationOutcome issues, each naming its FHIRPath-like location under `root`
 * ('' for a whole request, e.g. 'feedback[2]' for one item of it) and what is wrong there.
 */
export function schemaIssues(errors: Errors, root: string, wording: SchemaWording = {}): Issue[] {
  const issues = new Map<string, Issue>();
  for (const f of findings(errors, wording)) {
    const path = toExpression(root, f.pointer);
    const location = f.property === undefined ? path : path ? `${path}.${f.property}` : f.property;
    const diagnostics = `${location || 'request'} ${f.text}`;
    const key = `${location}|${diagnostics}`;
    issues.set(key, { severity: 'error', code: f.code, diagnostics, expression: [location || 'request'] });
  }
  return [...issues.values()];
}

export interface PointerProblem {
  pointer: string;
  message: string;
}

/** ajv errors as a file's problems: a JSON pointer ('/' for the whole document) and what is wrong there. */
export function schemaPointerProblems(errors: Errors, wording: SchemaWording = {}): PointerProblem[] {
  const problems = new Map<string, PointerProblem>();
  for (const f of findings(errors, wording)) {
    const problem = { pointer: f.pointer || '/', message: f.atValue ?? f.text };
    problems.set(`${problem.pointer}|${problem.message}`, problem);
  }
  return [...problems.values()];
}

function toExpression(root: string, pointer: string): string {
  let out = root;
  for (const part of pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out;
}
