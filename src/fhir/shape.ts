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
import { isCalendarValue, isPlainCalendarText, readCalendar, type CalendarForms } from '../calendar.js';
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

/**
 * Where the walk is: the path it was given, then each element name and list index below it, pushed on the
 * way down and popped on the way up (one array per walk, nothing allocated per element). Joined into text
 * only when a problem is reported there: most data has none.
 */
type Path = Array<string | number>;

function pathText(path: Path, key?: string): string {
  let text = String(path[0]);
  for (let i = 1; i < path.length; i++) {
    const part = path[i];
    text += typeof part === 'number' ? `[${part}]` : `.${part}`;
  }
  return key === undefined ? text : `${text}.${key}`;
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
  /** Where the walk is. */
  path: Path;
  /** The first `limit` problems of any kind, in the order of the walk. */
  problems: ShapeProblem[];
  /** The first `limit` `range` problems. */
  range: ShapeProblem[];
  limit: number;
}

export interface ShapeCheckOptions {
  /** Most problems reported (default 10). */
  limit?: number;
  /** Reports only `range` problems (the walk is the same). */
  rangeOnly?: boolean;
}

/** Both answers of one walk: the first problems of any kind, and the first `range` problems. */
export interface ShapeCheck {
  problems: ShapeProblem[];
  range: ShapeProblem[];
}

/** Problems of a FHIR resource at `path` (a Bundle's entries included), at most `limit` of them. */
export function fhirShapeIssues(
  value: unknown,
  path: string,
  { limit = 10, rangeOnly = false }: ShapeCheckOptions = {},
): ShapeProblem[] {
  const check = fhirShapeCheck(value, path, limit);
  return rangeOnly ? check.range : check.problems;
}

/**
 * One walk giving what `fhirShapeIssues` gives with and without `rangeOnly`: a call needs both (out-of-range
 * values are refused in every mode, the rest only reported or refused as configured).
 */
export function fhirShapeCheck(value: unknown, path: string, limit = 10): ShapeCheck {
  const walk: Walk = { path: [path], problems: [], range: [], limit };
  checkResource(value, walk, 0);
  return { problems: walk.problems, range: walk.range };
}

/** The same, each as `where: what`. */
export function fhirShapeProblems(value: unknown, path: string, limit = 10): string[] {
  return fhirShapeIssues(value, path, { limit }).map((p) => `${p.at}: ${p.message}`);
}

/** Reports a problem where the walk is, or at its element `key` when given. */
function report(walk: Walk, message: string, kind: ShapeProblem['kind'] = 'shape', key?: string): void {
  const full = walk.problems.length >= walk.limit;
  if (full && (kind !== 'range' || walk.range.length >= walk.limit)) return;
  const problem = { at: pathText(walk.path, key), message, kind };
  if (!full) walk.problems.push(problem);
  if (kind === 'range' && walk.range.length < walk.limit) walk.range.push(problem);
}

/** Nothing more to find: both lists are full. */
function done(walk: Walk): boolean {
  return walk.problems.length >= walk.limit && walk.range.length >= walk.limit;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function checkResource(value: unknown, walk: Walk, depth: number): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report(walk, `expected a FHIR resource (a JSON object), got ${describe(value)}`);
    return;
  }
  const type = (value as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') {
    report(walk, `expected the resource type as a string, got ${describe(type)}`, 'shape', 'resourceType');
    return;
  }
  const info = resourceClass(type);
  if (info) checkObject(value as Record<string, unknown>, info, walk, depth);
}

function checkObject(value: Record<string, unknown>, info: Compiled, walk: Walk, depth: number): void {
  if (depth > MAX_DEPTH) return;
  const path = walk.path;
  for (const key in value) {
    if (done(walk)) return;
    const child = value[key];
    if (child === null || child === undefined || key === 'resourceType' || key.charCodeAt(0) === 95 /* _ */) continue;
    const element = compiledElement(info, key);
    if (!element) continue;
    path.push(key);
    if (element.list) {
      if (!Array.isArray(child)) {
        report(walk, `expected an array of ${element.itemName}, got ${describe(child)}`);
      } else {
        const item = element.type;
        for (let i = 0; i < child.length; i++) {
          // null stands in a list only to line a primitive up with its `_element` extensions.
          if (child[i] === null && item?.primitive) continue;
          path.push(i);
          checkValue(child[i], item, walk, depth + 1);
          path.pop();
        }
      }
    } else if (Array.isArray(child)) {
      report(walk, `expected one ${element.itemName}, got an array`);
    } else {
      checkValue(child, element.type, walk, depth + 1);
    }
    path.pop();
  }
}

function checkValue(value: unknown, type: CompiledType | undefined, walk: Walk, depth: number): void {
  if (!type) return;
  if (type.json !== undefined) {
    if (typeof value !== type.json)
      report(walk, `expected a ${type.name} (a JSON ${type.json}), got ${describe(value)}`);
    else if (type.json === 'number') checkNumber(value as number, type.name, walk);
    else if (type.dates) checkDate(value as string, type.name, walk);
    return;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report(
      walk,
      type.name === 'Resource'
        ? `expected a FHIR resource (a JSON object), got ${describe(value)}`
        : `expected a ${type.name} (a JSON object), got ${describe(value)}`,
    );
    return;
  }
  // A resource where the element's type is Resource (Bundle.entry.resource, contained) or a resource type.
  if (type.resource || typeof (value as { resourceType?: unknown }).resourceType === 'string') {
    checkResource(value, walk, depth);
    return;
  }
  const info = type.compiled();
  if (!info) return;
  checkObject(value as Record<string, unknown>, info, walk, depth);
  if (type.quantity) checkUcumCode(value, walk);
}

function checkNumber(value: number, name: string, walk: Walk): void {
  if (INTEGER_TYPES.has(name)) {
    if (!Number.isInteger(value)) report(walk, `expected a whole number for the ${name}, got a fraction`);
    else if (value > MAX_INTEGER || value < MIN_INTEGER)
      report(walk, `the ${name} is outside the range of CQL's Integer (-2^31 to 2^31 - 1)`, 'range');
    else if ((name === 'positiveInt' && value < 1) || (name === 'unsignedInt' && value < 0))
      report(walk, `the ${name} is below its least value (${name === 'positiveInt' ? 1 : 0})`);
  } else if (!(value <= MAX_DECIMAL && value >= MIN_DECIMAL)) {
    report(walk, `the ${name} is outside the range of CQL's Decimal (at most 20 digits before the point)`, 'range');
  }
}

/** A FHIR date, dateTime, instant or time that CQL cannot read as one (it would fail or take it as absent). */
function checkDate(value: string, name: string, walk: Walk): void {
  if (name === 'time') {
    if (!TIME.test(value)) report(walk, 'the time is not a time of day (hh:mm:ss, hours 00 to 23)', 'range');
    return;
  }
  const forms = DATE_FORMS[name];
  if (!forms || isPlainCalendarText(value, forms)) return;
  const read = readCalendar(value, forms);
  if (!isCalendarValue(read)) report(walk, `the ${name} ${read.problem}`, 'range');
}

const QUANTITY_TYPES = new Set(['Quantity', 'SimpleQuantity', 'Age', 'Count', 'Distance', 'Duration', 'MoneyQuantity']);
const UCUM = 'http://unitsofmeasure.org';
const ucumVerdicts = new Map<string, boolean>();

/** A Quantity coded in UCUM must carry a UCUM code: the engine computes with it. */
function checkUcumCode(quantity: { system?: unknown; code?: unknown }, walk: Walk): void {
  if (quantity.system !== UCUM || typeof quantity.code !== 'string') return;
  let valid = quantity.code.length <= MAX_UCUM_CODE ? ucumVerdicts.get(quantity.code) : false;
  if (valid === undefined) {
    valid = validateUcumUnit(quantity.code) === null;
    if (ucumVerdicts.size < 10_000 && quantity.code.length <= 64) ucumVerdicts.set(quantity.code, valid);
  }
  if (!valid) report(walk, 'not a UCUM unit, though the system says UCUM', 'shape', 'code');
}

// The model info's look-ups walk base classes and try every split of a choice name: each class is
// compiled once into a table from JSON name to what the walk needs of the element (list or not, its
// type with the JSON type of a primitive, whether dates are to be read), filled as names are met.
interface CompiledElement {
  list: boolean;
  type: CompiledType | undefined;
  /** The type's name, for messages. */
  itemName: string;
}

interface CompiledType {
  name: string;
  /** The JSON type of a primitive (FHIR primitive or System type); undefined for a complex type. */
  json?: 'string' | 'number' | 'boolean';
  /** A string primitive whose text is a date, date-time, instant or time. */
  dates: boolean;
  primitive: boolean;
  /** The element holds a resource (Resource, DomainResource). */
  resource: boolean;
  quantity: boolean;
  /** The class of a complex type, compiled on first use. */
  compiled: () => Compiled | undefined;
}

interface Compiled {
  info: ClassInfo;
  elements: Map<string, CompiledElement | null>;
}

/** Most unknown JSON names remembered per class (real data has few; hostile data may have any number). */
const MAX_UNKNOWN_NAMES = 1024;

const compiledClasses = new Map<ClassInfo, Compiled>();

function compiledClass(info: ClassInfo): Compiled {
  let compiled = compiledClasses.get(info);
  if (!compiled) compiledClasses.set(info, (compiled = { info, elements: new Map() }));
  return compiled;
}

function compiledElement(compiled: Compiled, key: string): CompiledElement | undefined {
  const known = compiled.elements.get(key);
  if (known !== undefined) return known ?? undefined;
  // The model's choice-name look-up is quadratic in the name's length; no element name is long.
  if (!ELEMENT_NAME.test(key)) return undefined;
  const element = compiled.info.findElement(key, true);
  const type = element && typeOf(element.typeSpecifier, key.slice(element.name.length));
  const entry: CompiledElement | null = type
    ? {
        list: !!type.isList,
        type: type.isList ? compiledType(type.elementType) : compiledType(type),
        itemName: nameOf(type.isList ? type.elementType : type),
      }
    : null;
  if (entry || compiled.elements.size < MAX_UNKNOWN_NAMES) compiled.elements.set(key, entry);
  return entry ?? undefined;
}

const compiledTypes = new Map<TypeSpecifier, CompiledType | null>();

function compiledType(type: TypeSpecifier | undefined): CompiledType | undefined {
  if (!type?.isNamed) return undefined;
  let compiled = compiledTypes.get(type);
  if (compiled !== undefined) return compiled ?? undefined;
  const name = type.name ?? '';
  const primitive = isPrimitiveType(type);
  let info: Compiled | null | undefined;
  compiled = {
    name,
    ...(type.namespace === 'System' || primitive ? { json: jsonTypeOf(name) } : {}),
    dates: name === 'time' || Object.hasOwn(DATE_FORMS, name),
    primitive,
    resource: name === 'Resource' || name === 'DomainResource',
    quantity: QUANTITY_TYPES.has(name),
    compiled: () => {
      if (info === undefined) {
        const found = fhirModelInfo().findClass(type.fqn ?? `FHIR.${name}`);
        info = found ? compiledClass(found) : null;
      }
      return info ?? undefined;
    },
  };
  compiledTypes.set(type, compiled);
  return compiled;
}

const resourceClasses = new Map<string, Compiled | null>();

function resourceClass(resourceType: string): Compiled | undefined {
  let info = resourceClasses.get(resourceType);
  if (info !== undefined) return info ?? undefined;
  if (!RESOURCE_TYPE.test(resourceType)) return undefined;
  const found = fhirModelInfo().findClass(`FHIR.${resourceType}`);
  info = found ? compiledClass(found) : null;
  if (info || resourceClasses.size < MAX_UNKNOWN_NAMES) resourceClasses.set(resourceType, info);
  return info ?? undefined;
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
