// Where client-sent FHIR JSON does not have the shape FHIR R4 gives it: an array where one value
// belongs, a string where a CodeableConcept belongs, and so on. The CQL engine fails on such data
// with an error that cannot be told from a knowledge bug; this finds the offending places so that
// the caller gets a 400 naming them; by default (CDS_FHIR_CHECK=warn) it also runs on every call and
// what it finds is logged. Leniency stays where real EHR data needs it: unknown elements, unknown
// resource types, nulls standing for an absent value and the `_element` primitive extensions are
// not reported. Its cost is linear in the size of the data, whatever the data.
//
// Messages name locations and FHIR types only, never a value: they go back to the caller.
import { createRequire } from 'node:module';
import { isCalendarValue, readCalendar, type CalendarForms } from '../calendar.js';
import { fhirModelInfo, isPrimitiveType, type ClassInfo, type TypeSpecifier } from './model-info.js';
import { validateUcumUnit } from './ucum.js';

const MAX_DEPTH = 40;
/**
 * CQL's own bounds, from cql-execution itself (lib/util/math.js, as its Quantity and literals check them): a
 * Decimal within ±99999999999999999999.99999999, an Integer within 32 bits. Outside them a Quantity cannot be made.
 */
const cqlMath = createRequire(import.meta.url)('cql-execution/lib/util/math.js') as {
  MAX_FLOAT_VALUE: number;
  MIN_FLOAT_VALUE: number;
  MAX_INT_VALUE: number;
  MIN_INT_VALUE: number;
};
const { MAX_FLOAT_VALUE: MAX_DECIMAL, MIN_FLOAT_VALUE: MIN_DECIMAL } = cqlMath;
const { MAX_INT_VALUE: MAX_INTEGER, MIN_INT_VALUE: MIN_INTEGER } = cqlMath;
/** How each FHIR date type is read (CQL's Date and DateTime run from 0001-01-01 to 9999-12-31). */
const DATE_FORMS: Record<string, CalendarForms> = {
  date: { least: 'year', most: 'day' },
  dateTime: { least: 'year', most: 'second', offset: false },
  instant: { least: 'second', offset: false },
};
const TIME = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?$/;
const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt', 'Integer']);

/** FHIR element names (camelCase, short) and resource type names: anything else is not looked up. */
const ELEMENT_NAME = /^[a-z][A-Za-z0-9]{0,63}$/;
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{0,63}$/;
/** No UCUM code is this long; longer ones are refused without asking the UCUM library. */
const MAX_UCUM_CODE = 256;

/**
 * The JSON type of a primitive: numbers and booleans as such, every other primitive (and code) as a
 * string. FHIR primitives (boolean, decimal, ...) and the System types some elements have
 * (Element.id, Extension.url: System.String) alike.
 */
function jsonTypeOf(name: string): 'string' | 'number' | 'boolean' {
  if (name === 'boolean' || name === 'Boolean') return 'boolean';
  if (
    name === 'integer' ||
    name === 'positiveInt' ||
    name === 'unsignedInt' ||
    name === 'decimal' ||
    name === 'Integer' ||
    name === 'Decimal'
  )
    return 'number';
  return 'string';
}

/** A location, joined into text only when a problem is reported there: most data has none. */
type Path = string | { parent: Path; key: string | number };

function pathText(path: Path): string {
  if (typeof path === 'string') return path;
  const base = pathText(path.parent);
  return typeof path.key === 'number' ? `${base}[${path.key}]` : `${base}.${path.key}`;
}

/** One malformed place: where (e.g. `prefetch.egfr.entry[0].resource.valueQuantity`) and what is wrong there. */
export interface ShapeProblem {
  at: string;
  message: string;
  /**
   * `range`: a number or date outside what CQL can compute with (or no date at all), which would make the
   * evaluation fail or read it as absent; `shape`: anything else.
   */
  kind: 'shape' | 'range';
}

interface Walk {
  problems: ShapeProblem[];
  limit: number;
  rangeOnly: boolean;
}

export interface ShapeCheckOptions {
  /** Most problems reported (default 10). */
  limit?: number;
  /** Reports only `range` problems (the walk is the same). */
  rangeOnly?: boolean;
}

/** Problems of a FHIR resource at `path` (a Bundle's entries included), at most `limit` of them. */
export function fhirShapeIssues(
  value: unknown,
  path: string,
  { limit = 10, rangeOnly = false }: ShapeCheckOptions = {},
): ShapeProblem[] {
  const walk: Walk = { problems: [], limit, rangeOnly };
  checkResource(value, path, walk, 0);
  return walk.problems;
}

/** The same, each as `where: what`. */
export function fhirShapeProblems(value: unknown, path: string, limit = 10): string[] {
  return fhirShapeIssues(value, path, { limit }).map((p) => `${p.at}: ${p.message}`);
}

function report(walk: Walk, path: Path, message: string, kind: ShapeProblem['kind'] = 'shape'): void {
  if (walk.problems.length < walk.limit && (kind === 'range' || !walk.rangeOnly))
    walk.problems.push({ at: pathText(path), message, kind });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function checkResource(value: unknown, path: Path, walk: Walk, depth: number): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report(walk, path, `expected a FHIR resource (a JSON object), got ${describe(value)}`);
    return;
  }
  const type = (value as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') {
    report(
      walk,
      { parent: path, key: 'resourceType' },
      `expected the resource type as a string, got ${describe(type)}`,
    );
    return;
  }
  const info = resourceClass(type);
  if (info) checkObject(value as Record<string, unknown>, info, path, walk, depth);
}

function checkObject(value: Record<string, unknown>, info: ClassInfo, path: Path, walk: Walk, depth: number): void {
  if (depth > MAX_DEPTH) return;
  for (const key in value) {
    if (walk.problems.length >= walk.limit) return;
    const child = value[key];
    if (child === null || child === undefined || key === 'resourceType' || key.charCodeAt(0) === 95 /* _ */) continue;
    const type = elementType(info, key);
    if (!type) continue;
    if (type.isList) {
      if (!Array.isArray(child)) {
        report(walk, { parent: path, key }, `expected an array of ${nameOf(type.elementType)}, got ${describe(child)}`);
        continue;
      }
      const item = type.elementType;
      for (let i = 0; i < child.length; i++) {
        // null stands in a list only to line a primitive up with its `_element` extensions.
        if (child[i] === null && item?.isNamed && isPrimitive(item)) continue;
        checkValue(child[i], item, { parent: { parent: path, key }, key: i }, walk, depth + 1);
      }
    } else if (Array.isArray(child)) {
      report(walk, { parent: path, key }, `expected one ${nameOf(type)}, got an array`);
    } else {
      checkValue(child, type, { parent: path, key }, walk, depth + 1);
    }
  }
}

function checkValue(value: unknown, type: TypeSpecifier | undefined, path: Path, walk: Walk, depth: number): void {
  if (!type?.isNamed) return;
  if (type.namespace === 'System' || isPrimitive(type)) {
    const expected = jsonTypeOf(type.name ?? '');
    if (typeof value !== expected)
      report(walk, path, `expected a ${type.name} (a JSON ${expected}), got ${describe(value)}`);
    else if (expected === 'number') checkNumber(value as number, type.name ?? '', path, walk);
    else if (expected === 'string') checkDate(value as string, type.name ?? '', path, walk);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report(
      walk,
      path,
      type.name === 'Resource'
        ? `expected a FHIR resource (a JSON object), got ${describe(value)}`
        : `expected a ${type.name} (a JSON object), got ${describe(value)}`,
    );
    return;
  }
  // A resource where the element's type is Resource (Bundle.entry.resource, contained) or a resource type.
  if (
    typeof (value as { resourceType?: unknown }).resourceType === 'string' ||
    type.name === 'Resource' ||
    type.name === 'DomainResource'
  ) {
    checkResource(value, path, walk, depth);
    return;
  }
  const info = typeClass(type);
  if (!info) return;
  checkObject(value as Record<string, unknown>, info, path, walk, depth);
  if (QUANTITY_TYPES.has(type.name ?? '')) checkUcumCode(value, path, walk);
}

function checkNumber(value: number, name: string, path: Path, walk: Walk): void {
  if (INTEGER_TYPES.has(name)) {
    if (!Number.isInteger(value)) report(walk, path, `expected a whole number for the ${name}, got a fraction`);
    else if (value > MAX_INTEGER || value < MIN_INTEGER)
      report(walk, path, `the ${name} is outside the range of CQL's Integer (-2^31 to 2^31 - 1)`, 'range');
    else if ((name === 'positiveInt' && value < 1) || (name === 'unsignedInt' && value < 0))
      report(walk, path, `the ${name} is below its least value (${name === 'positiveInt' ? 1 : 0})`);
  } else if (!(value <= MAX_DECIMAL && value >= MIN_DECIMAL)) {
    report(
      walk,
      path,
      `the ${name} is outside the range of CQL's Decimal (at most 20 digits before the point)`,
      'range',
    );
  }
}

/** A FHIR date, dateTime, instant or time that CQL cannot read as one (it would fail or take it as absent). */
function checkDate(value: string, name: string, path: Path, walk: Walk): void {
  if (name === 'time') {
    if (!TIME.test(value)) report(walk, path, 'the time is not a time of day (hh:mm:ss, hours 00 to 23)', 'range');
    return;
  }
  const forms = DATE_FORMS[name];
  if (!forms) return;
  const read = readCalendar(value, forms);
  if (!isCalendarValue(read)) report(walk, path, `the ${name} ${read.problem}`, 'range');
}

const QUANTITY_TYPES = new Set(['Quantity', 'SimpleQuantity', 'Age', 'Count', 'Distance', 'Duration', 'MoneyQuantity']);
const UCUM = 'http://unitsofmeasure.org';
const ucumVerdicts = new Map<string, boolean>();

/** A Quantity coded in UCUM must carry a UCUM code: the engine computes with it. */
function checkUcumCode(quantity: { system?: unknown; code?: unknown }, path: Path, walk: Walk): void {
  if (quantity.system !== UCUM || typeof quantity.code !== 'string') return;
  let valid = quantity.code.length <= MAX_UCUM_CODE ? ucumVerdicts.get(quantity.code) : false;
  if (valid === undefined) {
    valid = validateUcumUnit(quantity.code) === null;
    if (ucumVerdicts.size < 10_000 && quantity.code.length <= 64) ucumVerdicts.set(quantity.code, valid);
  }
  if (!valid) report(walk, { parent: path, key: 'code' }, `not a UCUM unit, though the system says UCUM`);
}

// The model info's look-ups walk base classes and try every split of a choice name: one look-up per
// class and JSON name keeps the walk linear in the size of the data.
const elementTypes = new Map<ClassInfo, Map<string, TypeSpecifier | null>>();

function elementType(info: ClassInfo, key: string): TypeSpecifier | undefined {
  // The model's choice-name look-up is quadratic in the name's length; no element name is long.
  if (!ELEMENT_NAME.test(key)) return undefined;
  let types = elementTypes.get(info);
  if (!types) elementTypes.set(info, (types = new Map()));
  let type = types.get(key);
  if (type === undefined) {
    const element = info.findElement(key, true);
    type = (element && typeOf(element.typeSpecifier, key.slice(element.name.length))) ?? null;
    types.set(key, type);
  }
  return type ?? undefined;
}

const resourceClasses = new Map<string, ClassInfo | null>();

function resourceClass(resourceType: string): ClassInfo | undefined {
  if (!RESOURCE_TYPE.test(resourceType)) return undefined;
  let info = resourceClasses.get(resourceType);
  if (info === undefined)
    resourceClasses.set(resourceType, (info = fhirModelInfo().findClass(`FHIR.${resourceType}`) ?? null));
  return info ?? undefined;
}

const typeClasses = new Map<TypeSpecifier, ClassInfo | null>();

function typeClass(type: TypeSpecifier): ClassInfo | undefined {
  let info = typeClasses.get(type);
  if (info === undefined)
    typeClasses.set(type, (info = fhirModelInfo().findClass(type.fqn ?? `FHIR.${type.name}`) ?? null));
  return info ?? undefined;
}

const primitives = new Map<TypeSpecifier, boolean>();

function isPrimitive(type: TypeSpecifier): boolean {
  let primitive = primitives.get(type);
  if (primitive === undefined) primitives.set(type, (primitive = isPrimitiveType(type)));
  return primitive;
}

/** The element's type; for a choice element (`value[x]`) the one its JSON name picks (`valueQuantity`). */
function typeOf(type: TypeSpecifier, suffix: string): TypeSpecifier | undefined {
  if (!type.isChoice) return suffix === '' ? type : undefined;
  const choices = (type as { choices?: TypeSpecifier[] }).choices ?? [];
  return choices.find((c) => c.name !== undefined && c.name.toLowerCase() === suffix.toLowerCase());
}

function nameOf(type: TypeSpecifier | undefined): string {
  return type?.name ?? 'values';
}
