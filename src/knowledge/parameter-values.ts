// Values a service gives CQL parameters without the hook context: literals and values relative to
// the evaluation time, typed against the parameter's declared CQL type when the knowledge loads.
//
//   "Measurement Period": { "interval": ["2026-01-01", "2026-12-31"] }
//   "Measurement Period": { "relative": "this calendar year" }
//   "Lookback":           { "value": { "value": 90, "unit": "days" } }
//
// A DateTime given as a date means the start of that day (UTC), or its last millisecond as the high
// end of an interval: ["2026-01-01", "2026-12-31"] is the whole of 2026, as measure periods are meant.
import { createRequire } from 'node:module';
import type {
  Date as CqlDateType,
  DateTime as CqlDateTimeType,
  Interval as CqlIntervalType,
  Quantity as CqlQuantityType,
} from 'cql-execution';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as {
  Date: typeof CqlDateType;
  DateTime: typeof CqlDateTimeType;
  Interval: typeof CqlIntervalType;
  Quantity: typeof CqlQuantityType;
};

/** A literal or relative parameter value as written in cds-services.json. */
export type ParameterValueSource =
  | { value: unknown }
  | { interval: [unknown, unknown]; lowClosed?: boolean; highClosed?: boolean }
  | { relative: string };

/** A CQL type as far as parameter values need it: a simple type, or an Interval or List of one. */
export type ParameterType =
  | { kind: 'simple'; name: string }
  | { kind: 'interval'; point: string }
  | { kind: 'list'; element: string }
  | { kind: 'other'; name: string };

export interface DeclaredParameter {
  name: string;
  /** Undefined when neither a type nor a default the type can be read from is declared. */
  type?: ParameterType;
  hasDefault: boolean;
  /** Line of the declaration in the CQL source (from the ELM locator). */
  line?: number;
}

const SYSTEM = '{urn:hl7-org:elm-types:r1}';
const POINT_TYPES = ['Date', 'DateTime', 'Integer', 'Decimal', 'Quantity'];
const SIMPLE_TYPES = ['Boolean', 'Integer', 'Decimal', 'String', 'Date', 'DateTime', 'Quantity'];

type Node = Record<string, any>;

/** The parameters an ELM library declares. */
export function declaredParameters(library: Node | undefined): DeclaredParameter[] {
  const defs: Node[] = library?.parameters?.def ?? [];
  return defs.map((d) => {
    const line = /^(\d+):/.exec(String(d.locator ?? ''))?.[1];
    const type = typeFromSpecifier(d.parameterTypeSpecifier) ?? typeFromDefault(d.default);
    return {
      name: String(d.name),
      ...(type ? { type } : {}),
      hasDefault: d.default !== undefined && d.default !== null,
      ...(line ? { line: Number(line) } : {}),
    };
  });
}

function typeName(name: unknown): string {
  const text = typeof name === 'string' ? name : '';
  if (text.startsWith(SYSTEM)) return text.slice(SYSTEM.length);
  return text.replace(/^\{http:\/\/hl7\.org\/fhir\}/, 'FHIR.');
}

function typeFromSpecifier(spec: Node | undefined): ParameterType | undefined {
  if (!spec) return undefined;
  if (spec.type === 'NamedTypeSpecifier') {
    const name = typeName(spec.name);
    return SIMPLE_TYPES.includes(name) ? { kind: 'simple', name } : { kind: 'other', name };
  }
  if (spec.type === 'IntervalTypeSpecifier') {
    const point = typeName(spec.pointType?.name);
    return POINT_TYPES.includes(point) ? { kind: 'interval', point } : { kind: 'other', name: `Interval<${point}>` };
  }
  if (spec.type === 'ListTypeSpecifier') {
    const element = typeName(spec.elementType?.name);
    return SIMPLE_TYPES.includes(element)
      ? { kind: 'list', element }
      : { kind: 'other', name: `List<${element || '?'}>` };
  }
  return { kind: 'other', name: String(spec.type) };
}

/** The type of a default the translator gave no result type for: a literal, date, quantity or interval of them. */
function typeFromDefault(node: Node | undefined): ParameterType | undefined {
  if (!node) return undefined;
  if (node.resultTypeName) {
    const name = typeName(node.resultTypeName);
    if (SIMPLE_TYPES.includes(name)) return { kind: 'simple', name };
  }
  const point = pointTypeOf(node);
  if (point) return { kind: 'simple', name: point };
  if (node.type === 'Interval') {
    const low = pointTypeOf(node.low) ?? pointTypeOf(node.high);
    if (low) return { kind: 'interval', point: low };
  }
  return undefined;
}

function pointTypeOf(node: Node | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'Literal') return typeName(node.valueType);
  if (node.type === 'DateTime' || node.type === 'Date' || node.type === 'Quantity') return node.type;
  return undefined;
}

export function describeType(type: ParameterType): string {
  if (type.kind === 'interval') return `Interval<${type.point}>`;
  if (type.kind === 'list') return `List<${type.element}>`;
  return type.name;
}

/** Thrown for a value that does not fit its parameter's type; the message says what is wrong. */
export class ParameterValueError extends Error {}

/**
 * The CQL value of a literal or relative parameter source, as of `now`. Throws ParameterValueError
 * when the source does not fit the type: the load calls this once to check, each evaluation to bind.
 */
export function parameterValue(source: ParameterValueSource, type: ParameterType, now: Date): unknown {
  if ('relative' in source) return relativeValue(source.relative, type, now);
  if ('interval' in source) {
    if (type.kind !== 'interval')
      throw new ParameterValueError(`an interval was given, but the parameter is ${describeType(type)}`);
    const [low, high] = source.interval;
    return new cql.Interval(
      pointValue(low, type.point, 'low'),
      pointValue(high, type.point, 'high'),
      source.lowClosed ?? true,
      source.highClosed ?? true,
    );
  }
  const { value } = source;
  if (type.kind === 'simple') return pointValue(value, type.name, 'point');
  if (type.kind === 'list') {
    if (!Array.isArray(value)) throw new ParameterValueError(`a list was expected for ${describeType(type)}`);
    return value.map((v) => pointValue(v, type.element, 'point'));
  }
  if (type.kind === 'interval')
    throw new ParameterValueError(`the parameter is ${describeType(type)}: give {"interval": [low, high]}`);
  throw new ParameterValueError(`a literal cannot be given to a parameter of type ${describeType(type)}`);
}

type End = 'low' | 'high' | 'point';

function pointValue(value: unknown, type: string, end: End): unknown {
  if (value === null) return null;
  const wrong = (): never => {
    throw new ParameterValueError(`${JSON.stringify(value)} is not a ${type}`);
  };
  switch (type) {
    case 'Boolean':
      return typeof value === 'boolean' ? value : wrong();
    case 'Integer':
      return typeof value === 'number' && Number.isInteger(value) ? value : wrong();
    case 'Decimal':
      return typeof value === 'number' && Number.isFinite(value) ? value : wrong();
    case 'String':
      return typeof value === 'string' ? value : wrong();
    case 'Date': {
      const date = typeof value === 'string' && /^\d{4}(-\d{2}(-\d{2})?)?$/.test(value) ? cql.Date.parse(value) : null;
      return date ?? wrong();
    }
    case 'DateTime':
      return typeof value === 'string' ? (dateTime(value, end) ?? wrong()) : wrong();
    case 'Quantity': {
      const q = value as { value?: unknown; unit?: unknown };
      if (!q || typeof q !== 'object' || typeof q.value !== 'number') return wrong();
      try {
        return new cql.Quantity(q.value, typeof q.unit === 'string' ? q.unit : '1');
      } catch (err) {
        throw new ParameterValueError(`${JSON.stringify(value)} is not a Quantity: ${(err as Error).message}`);
      }
    }
    default:
      throw new ParameterValueError(`a literal cannot be given to a ${type}`);
  }
}

/** A DateTime from ISO 8601 text; a date alone is the start of that day (UTC), or its end as an interval's high end. */
function dateTime(text: string, end: End): CqlDateTimeType | undefined {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    if (cql.Date.parse(text) === null) return undefined;
    return end === 'high' ? new cql.DateTime(y, m, d, 23, 59, 59, 999, 0) : new cql.DateTime(y, m, d, 0, 0, 0, 0, 0);
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) || Number.isNaN(new Date(text).getTime())) return undefined;
  // Without an offset the time is UTC, as the evaluation time is.
  const withOffset = /(Z|[+-]\d{2}:\d{2})$/.test(text) ? text : `${text}Z`;
  return cql.DateTime.fromJSDate(new Date(withOffset), 0);
}

type Unit = 'year' | 'month' | 'week' | 'day' | 'hour';

/** The relative forms, for messages and documentation. */
export const RELATIVE_FORMS = [
  'now',
  'today',
  'N days|weeks|months|years before now',
  'the N days|weeks|months|years before now',
  'this calendar year|month',
  'last calendar year|month',
];

function relativeValue(text: string, type: ParameterType, now: Date): unknown {
  const phrase = text.trim().toLowerCase().replace(/\s+/g, ' ');
  const point = type.kind === 'interval' ? type.point : type.kind === 'simple' ? type.name : undefined;
  if (point !== 'Date' && point !== 'DateTime')
    throw new ParameterValueError(
      `a relative value needs a Date, DateTime or an interval of them; the parameter is ${describeType(type)}`,
    );
  const at = (d: Date, end: End): unknown => (point === 'Date' ? dateOf(d) : cql.DateTime.fromJSDate(endOf(d, end), 0));
  const unknown = (): never => {
    throw new ParameterValueError(`'${text}' is not a relative time this server knows (${RELATIVE_FORMS.join('; ')})`);
  };

  const before = /^(the )?(\d+) (year|month|week|day|hour)s? (before now|ago)$/.exec(phrase);
  const calendar = /^(this|last|previous) calendar (year|month)$/.exec(phrase);
  if (type.kind === 'interval') {
    if (before && before[1]) {
      const start = shift(now, before[3] as Unit, -Number(before[2]));
      return new cql.Interval(at(start, 'point'), at(now, 'point'), true, true);
    }
    if (calendar) {
      const offset = calendar[1] === 'this' ? 0 : -1;
      const y = now.getUTCFullYear();
      const m = now.getUTCMonth();
      const [start, end] =
        calendar[2] === 'year'
          ? [new Date(Date.UTC(y + offset, 0, 1)), new Date(Date.UTC(y + offset, 11, 31))]
          : [new Date(Date.UTC(y, m + offset, 1)), new Date(Date.UTC(y, m + offset + 1, 0))];
      return new cql.Interval(at(start, 'low'), at(end, 'high'), true, true);
    }
    return unknown();
  }
  if (phrase === 'now') return at(now, 'point');
  if (phrase === 'today') return point === 'Date' ? dateOf(now) : at(now, 'low');
  if (before && !before[1]) return at(shift(now, before[3] as Unit, -Number(before[2])), 'point');
  return unknown();
}

function shift(d: Date, unit: Unit, n: number): Date {
  const r = new Date(d.getTime());
  if (unit === 'year') r.setUTCFullYear(r.getUTCFullYear() + n);
  else if (unit === 'month') r.setUTCMonth(r.getUTCMonth() + n);
  else if (unit === 'week') r.setUTCDate(r.getUTCDate() + 7 * n);
  else if (unit === 'day') r.setUTCDate(r.getUTCDate() + n);
  else r.setUTCHours(r.getUTCHours() + n);
  return r;
}

function dateOf(d: Date): CqlDateType {
  return new cql.Date(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

/** For calendar bounds: the first or last millisecond of the day; for "now" and shifted times, the time itself. */
function endOf(d: Date, end: End): Date {
  if (end === 'point') return d;
  const r = new Date(d.getTime());
  if (end === 'low') r.setUTCHours(0, 0, 0, 0);
  else r.setUTCHours(23, 59, 59, 999);
  return r;
}
