// FHIR JSON as cql-execution navigates it, with cql-exec-fhir's semantics and less of its cost.
//
// cql-exec-fhir's FHIRObject defines one getter per element of its class on every instance (walking the
// class and its bases through findClass each time) and resolves each property read from the model info
// again. Here each class gets one prototype, made once, holding those getters; an instance holds only
// its JSON. What cql-execution sees is the same: the same element names readable, the same values (the
// same `get`, primitives with their `_element` extensions, choices, System types), FHIRObject.prototype
// (getCode, _is, ...) underneath, and the same answers from equals and equivalent, which on cql-exec-fhir
// compare the enumerable own getters and here compare the same element names (test/engine/patient-data
// compares every define of every fixture and generated record with stock cql-exec-fhir).
//
// Dates: a call parses each distinct FHIR date-time text once (luxon is the cost); each read gets its own copy
// of the value, as each read of cql-exec-fhir gets its own object.
import { createRequire } from 'node:module';
import type { ClassInfo, FhirModelInfo, TypeSpecifier } from '../../fhir/index.js';
import { daysIn, digits } from '../../calendar.js';

const require = createRequire(import.meta.url);

interface CqlDateTime {
  year: number | null;
  getDate(): unknown;
  timezoneOffset: number | null;
}
const cql = require('cql-execution') as {
  DateTime: { parse(text: string): CqlDateTime | null } & (new (...fields: Array<number | undefined>) => CqlDateTime);
  Decimal?: { from(value: unknown): unknown };
  Interval: new (low: unknown, high: unknown, lowClosed?: boolean, highClosed?: boolean) => unknown;
};
const choiceNames = require('cql-exec-fhir/lib/util') as { normalizeChoiceName: (n: string) => string };
const comparison = require('cql-execution/lib/util/comparison') as {
  equals: (a: unknown, b: unknown) => boolean | null;
  equivalent: (a: unknown, b: unknown) => boolean | null;
};

interface Spec extends TypeSpecifier {
  isInterval?: boolean;
  pointType?: Spec;
  choices?: Spec[];
  elementType?: Spec;
}

interface Element {
  name: string;
  typeSpecifier: Spec;
}

interface Model extends FhirModelInfo {
  findClass(
    name: string | undefined,
  ): (ClassInfo & { findElement(n: string, e?: boolean): Element | undefined }) | undefined;
}

/** The state of one call: its model and the date-times it has parsed. */
export interface FhirCall {
  model: Model;
  dates: Map<string, unknown>;
}

const JSON_OF = Symbol('json');
const CALL_OF = Symbol('call');

interface Instance {
  [JSON_OF]: Record<string, unknown> | null | undefined;
  [CALL_OF]: FhirCall;
  _typeInfo: ClassInfo | null;
  get(field: string): unknown;
}

/** What one class needs: its prototype, its element names (the enumerable getters) and resolved reads. */
interface Shape {
  proto: object;
  names: string[];
  fields: Map<string, Field | null>;
}

/** How a read of one element name resolves (everything in `get` that does not depend on the JSON). */
interface Field {
  element: Element;
  /** An explicit choice name (`medicationCodeableConcept`): the choice it names, if any. */
  explicit?: { type: Spec | undefined };
  /** The choices of a choice element, each with its JSON name and that name's `_` form. */
  choices?: Array<{ property: string; extra: string; type: Spec }>;
}

let base: object | undefined;
const shapes = new Map<ClassInfo | null, Shape>();
const classes = new Map<string | undefined, ClassInfo | null>();
const primitives = new Map<Spec, boolean>();

/** Makes the FHIR object of `json` as class `classInfo`, for one call. */
export function fhirObject(
  FHIRObject: { prototype: object },
  json: unknown,
  classInfo: ClassInfo | null | undefined,
  call: FhirCall,
): unknown {
  base ??= baseProto(FHIRObject);
  return make(json, classInfo ?? null, call);
}

function make(json: unknown, info: ClassInfo | null, call: FhirCall): Instance {
  const object = Object.create(shapeOf(info, call.model).proto) as Instance;
  object[JSON_OF] = json as Record<string, unknown>;
  object[CALL_OF] = call;
  return object;
}

function shapeOf(info: ClassInfo | null, model: Model): Shape {
  let shape = shapes.get(info);
  if (shape) return shape;
  const proto = Object.create(base!) as object;
  let hierarchy: unknown;
  const typeHierarchy = (base as { _typeHierarchy: () => unknown })._typeHierarchy;
  Object.defineProperties(proto, {
    _typeInfo: { value: info, enumerable: false },
    _modelInfo: { value: model, enumerable: false },
    // The same for every instance of the class (cql-exec-fhir builds it on every `_is`); only read.
    _typeHierarchy: {
      value(this: Instance) {
        return (hierarchy ??= typeHierarchy.call(this));
      },
      enumerable: false,
    },
  });
  // cql-exec-fhir's element names: the class's and every base class's, in that order, once each.
  const names = new Set<string>();
  for (let current: ClassInfo | undefined = info ?? undefined; current;) {
    for (const e of current.elements) names.add(e.name);
    current = current.baseTypeSpecifier ? model.findClass(current.baseTypeSpecifier.fqn) : undefined;
  }
  for (const name of names)
    Object.defineProperty(proto, name, {
      get(this: Instance) {
        return this.get(name);
      },
      enumerable: true,
    });
  shape = { proto, names: [...names], fields: new Map() };
  shapes.set(info, shape);
  return shape;
}

function baseProto(FHIRObject: { prototype: object }): object {
  const proto = Object.create(FHIRObject.prototype) as object;
  Object.defineProperties(proto, {
    _json: {
      get(this: Instance) {
        return this[JSON_OF];
      },
      enumerable: false,
    },
    get: { value: get, enumerable: false, writable: true },
    // cql-execution compares objects by their enumerable own keys; those of a cql-exec-fhir FHIRObject are
    // its element names, held here by the class's prototype.
    equals: {
      value(this: Instance, other: unknown) {
        if (other == null) return null;
        if (Object.prototype.toString.call(other) !== '[object Object]') return false;
        return compareObjects(this, other, comparison.equals);
      },
      enumerable: false,
    },
    equivalent: {
      value(this: Instance, other: unknown) {
        if (other == null) return false;
        return compareObjects(this, other, comparison.equivalent);
      },
      enumerable: false,
    },
  });
  return proto;
}

/** Keys as cql-execution's comparison takes them: enumerable own keys, or the element names here. */
function keysOf(object: object): string[] {
  const shape = JSON_OF in object ? shapes.get((object as Instance)._typeInfo) : undefined;
  const keys = shape ? shape.names : Object.keys(object);
  return keys.filter((k) => typeof (object as Record<string, unknown>)[k] !== 'function');
}

/** cql-execution's compareObjects (lib/util/comparison.js), over keysOf. */
function compareObjects(a: object, b: object, compare: (x: unknown, y: unknown) => boolean | null): boolean | null {
  const ac = (a as { constructor: new () => unknown }).constructor;
  const bc = (b as { constructor: new () => unknown }).constructor;
  if (!(b instanceof ac && a instanceof bc)) return false;
  const aKeys = keysOf(a).sort();
  const bKeys = keysOf(b).sort();
  if (aKeys.length !== bKeys.length || !aKeys.every((k, i) => k === bKeys[i])) return false;
  let sawNull = false;
  const result = aKeys.every((key) => {
    const x = (a as Record<string, unknown>)[key];
    const y = (b as Record<string, unknown>)[key];
    if (x == null && y == null) return true;
    const r = compare(x, y);
    if (r === null) {
      sawNull = true;
      return true;
    }
    return r;
  });
  return result && sawNull ? null : result;
}

function classOf(model: Model, fqn: string | undefined): ClassInfo | null {
  let info = classes.get(fqn);
  if (info === undefined) classes.set(fqn, (info = model.findClass(fqn) ?? null));
  return info;
}

function fieldOf(shape: Shape, info: ClassInfo, root: string): Field | null {
  let field = shape.fields.get(root);
  if (field !== undefined) return field;
  const element = (info as { findElement(n: string, e?: boolean): Element | undefined }).findElement(root, true);
  if (!element) {
    // Said once per class and name (stock cql-exec-fhir says it on every read: thousands of lines a call).
    console.error(`Failed to locate element for ${info.name}.${root}`);
    field = null;
  } else if (root !== element.name && element.typeSpecifier.isChoice) {
    const type = element.typeSpecifier.choices!.find((c) => root === choicePropertyName(element, c));
    field = { element, explicit: { type } };
  } else if (element.typeSpecifier.isChoice) {
    field = {
      element,
      choices: element.typeSpecifier
        .choices!.filter((c) => c.isNamed)
        .map((c) => {
          const property = choicePropertyName(element, c);
          return { property, extra: `_${property}`, type: c };
        }),
    };
  } else field = { element };
  // The names read are the model's (and those of the CQL read through it): few, whatever the data.
  shape.fields.set(root, field);
  return field;
}

function choicePropertyName(element: Element, choice: Spec): string {
  const name = choiceNames.normalizeChoiceName(choice.name!);
  return `${element.name}${name[0].toUpperCase()}${name.slice(1)}`;
}

/** cql-exec-fhir's FHIRObject.get, with the resolution of each name done once per class. */
function get(this: Instance, field: string): unknown {
  const json = this[JSON_OF];
  if (json == null) return json;
  const dot = field.indexOf('.');
  const root = dot < 0 ? field : field.slice(0, dot);
  const suffix = dot < 0 ? undefined : field.slice(dot + 1);
  const info = this._typeInfo!;
  const call = this[CALL_OF];
  const resolved = fieldOf(shapes.get(info)!, info, root);
  if (!resolved) return undefined;
  let property: string;
  let type: Spec;
  if (resolved.explicit) {
    property = root;
    type = resolved.explicit.type!;
  } else {
    property = resolved.element.name;
    type = resolved.element.typeSpecifier;
    if (resolved.choices) {
      for (const choice of resolved.choices) {
        if (json[choice.property] != null || json[choice.extra] != null) {
          property = choice.property;
          type = choice.type;
          break;
        }
      }
    }
  }
  if (type.namespace === 'System') {
    if (suffix != null) {
      console.error(`Traversing into CQL system types isn't supported: ${info.name}.${root}.${suffix}.`);
      return undefined;
    }
    return systemValue(json[property], type.name!, call);
  }
  const data = propertyFromJson(json, property, type, call.model);
  if (data == null) return data;
  return toFhirObject(data, type, call, suffix);
}

/**
 * cql-exec-fhir's getPropertyFromJSON: a primitive and its `_element` extensions as one value (for a list, item
 * by item), without the arrays it builds for a single value.
 */
function propertyFromJson(json: Record<string, unknown>, property: string, type: Spec, model: Model): unknown {
  const value = json[property];
  const extra = json[extraName(property)];
  if (value == null && extra == null) return value;
  if (!isPrimitiveOrList(type, model)) return value;
  if (!type.isList) return primitiveItem(value, extra);
  const values = Array.isArray(value) ? (value as unknown[]) : undefined;
  const extras = Array.isArray(extra) ? (extra as unknown[]) : undefined;
  const length = Math.max(values ? values.length : 1, extras ? extras.length : 1);
  const data: unknown[] = [];
  for (let i = 0; i < length; i++)
    data.push(
      primitiveItem(values ? values[i] : i === 0 ? value : undefined, extras ? extras[i] : i === 0 ? extra : undefined),
    );
  return data;
}

/** One primitive with its extensions: `{ value, ...extension }`, or the value itself when both are absent. */
function primitiveItem(value: unknown, extra: unknown): unknown {
  if (value == null && extra == null) return value;
  const item: Record<string, unknown> = {};
  if (typeof value !== 'undefined') item.value = value;
  if (extra != null) Object.assign(item, extra);
  return item;
}

const extraNames = new Map<string, string>();

/** `_name`, the JSON name of a primitive's extensions, made once per name (the model's names: few). */
function extraName(property: string): string {
  let name = extraNames.get(property);
  if (name === undefined) extraNames.set(property, (name = `_${property}`));
  return name;
}

function isPrimitiveOrList(type: Spec, model: Model): boolean {
  let primitive = primitives.get(type);
  if (primitive === undefined) {
    primitive = computePrimitive(type, model);
    primitives.set(type, primitive);
  }
  return primitive;
}

/** cql-exec-fhir's isFHIRPrimitiveOrListOfFHIRPrimitives. */
function computePrimitive(type: Spec, model: Model): boolean {
  if (type.isNamed) {
    if (type.namespace === 'FHIR' && type.name![0].toLowerCase() === type.name![0]) return true;
    const info = model.findClass(type.fqn);
    if (info && info.baseTypeSpecifier && info.baseTypeSpecifier.fqn === 'FHIR.Element' && info.elements.length === 1) {
      const property = info.findElement('value');
      return !!property && property.typeSpecifier.fqn === 'System.String';
    }
    return false;
  } else if (type.isList) {
    return isPrimitiveOrList(type.elementType!, model);
  }
  return false;
}

/** cql-exec-fhir's toSystemObject, each date-time text parsed once per call. */
function systemValue(data: unknown, name: string, call: FhirCall): unknown {
  if (data == null) return data;
  switch (name) {
    case 'Boolean':
    case 'Integer':
    case 'String':
      return data;
    case 'Decimal':
      return cql.Decimal != null && typeof cql.Decimal.from === 'function' ? cql.Decimal.from(data) : data;
    case 'Code':
    case 'Concept':
    case 'Quantity':
      return undefined;
    case 'DateTime':
      return parsedOnce(call, `T${data as string}`, () => parseDateTime((data as string).replace('Z', '+00:00')));
    case 'Date':
      return parsedOnce(call, `D${data as string}`, () => {
        const parsed = parseDateTime(data as string);
        return parsed != null ? parsed.getDate() : undefined;
      });
    case 'Time': {
      const time = cql.DateTime.parse(`0000-01-01T${(data as string).replace('Z', '+00:00')}`) as CqlDateTime;
      time.timezoneOffset = null;
      return time;
    }
  }
  return undefined;
}

/**
 * cql-execution's DateTime.parse, which checks the text against luxon formats (most of a call's date cost):
 * the common FHIR forms (a day; a time to the second or millisecond with its offset) of years 1000 to 9998
 * are built directly, with the same fields, when the calendar has them; any other text goes to DateTime.parse.
 */
export function parseDateTime(text: string): CqlDateTime | null {
  return quickDateTime(text) ?? cql.DateTime.parse(text);
}

/**
 * `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ss±hh:mm` or `YYYY-MM-DDThh:mm:ss.SSS±hh:mm`, read by position (no match
 * arrays): the fields DateTime.parse would give, or undefined for any other text.
 */
function quickDateTime(text: string): CqlDateTime | undefined {
  const n = text.length;
  if (n !== 10 && n !== 25 && n !== 29) return undefined;
  if (text.charCodeAt(4) !== 45 /* - */ || text.charCodeAt(7) !== 45) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  if (year < 1000 || year > 9998 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (n === 10) return new cql.DateTime(year, month, day, undefined, undefined, undefined, undefined);
  if (text.charCodeAt(10) !== 84 /* T */ || text.charCodeAt(13) !== 58 /* : */ || text.charCodeAt(16) !== 58)
    return undefined;
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  let millisecond: number | undefined;
  let at = 19;
  if (n === 29) {
    if (text.charCodeAt(19) !== 46 /* . */) return undefined;
    millisecond = digits(text, 20, 3);
    if (millisecond < 0) return undefined;
    at = 23;
  }
  const sign = text.charCodeAt(at);
  if ((sign !== 43 /* + */ && sign !== 45) || text.charCodeAt(at + 3) !== 58) return undefined;
  const offsetHours = digits(text, at + 1, 2);
  const offsetMinutes = digits(text, at + 4, 2);
  if (hour < 0 || minute < 0 || second < 0 || offsetHours < 0 || offsetMinutes < 0) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 14 || offsetMinutes > 59) return undefined;
  const offset = offsetHours + offsetMinutes / 60;
  return new cql.DateTime(year, month, day, hour, minute, second, millisecond, sign === 43 ? offset : offset * -1);
}

/**
 * The value for `key` parsed once per call, and each read its own copy of it: cql-exec-fhir gives each read a new
 * object, and `sort by` tells equal values apart by identity (ByExpression orders two values that are one object
 * as a tie, two equal objects as "after", so a shared object reordered ties: the latest of two observations made
 * at the same time was the other one). cql-execution adjusts the offset of its MIN and MAX date-times in place
 * (Start, End, Predecessor, Successor): a value of year 1 or 9999 is never kept.
 */
function parsedOnce(call: FhirCall, key: string, parse: () => unknown): unknown {
  const known = call.dates.get(key);
  if (known !== undefined) return (known as { copy(): unknown }).copy();
  const value = parse();
  const year = (value as CqlDateTime | null | undefined)?.year;
  if (value != null && typeof year === 'number' && year > 1 && year < 9999) call.dates.set(key, value);
  return value;
}

/** cql-exec-fhir's toFHIRObject. */
function toFhirObject(data: unknown, type: Spec, call: FhirCall, suffix?: string): unknown {
  if (data == null) return data;
  if (type.isNamed) {
    const object = make(data, classOf(call.model, type.fqn), call);
    return suffix != null ? object.get(suffix) : object;
  } else if (type.isList) {
    if (suffix != null) {
      console.error('List type found in the middle of a path.');
      return undefined;
    }
    return (data as unknown[]).map((item) => toFhirObject(item, type.elementType!, call));
  } else if (type.isInterval) {
    const d = data as { low?: unknown; high?: unknown; lowClosed?: boolean; highClosed?: boolean };
    return new cql.Interval(
      toFhirObject(d.low, type.pointType!, call),
      toFhirObject(d.high, type.pointType!, call),
      d.lowClosed,
      d.highClosed,
    );
  }
  return undefined;
}
