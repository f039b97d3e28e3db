// CQL results → plain JSON, the shape rule conditions and card templates read (docs/knowledge-format.md).

interface CqlLike {
  isQuantity?: boolean;
  isCode?: boolean;
  isConcept?: boolean;
  isDate?: boolean;
  isDateTime?: boolean;
  isInterval?: boolean;
  isRatio?: boolean;
  isValueSet?: boolean;
  isUncertainty?: boolean;
  _json?: unknown;
  [key: string]: unknown;
}

export function cqlToJson(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  if (depth > 50) return null;
  if (Array.isArray(value)) return value.map((v) => cqlToJson(v, depth + 1));
  if (typeof value !== 'object') return null;
  const v = value as CqlLike;
  // cql-exec-fhir FHIRObject: keep the FHIR JSON as the EHR sent it.
  if (v._json !== undefined) return fhirJson(v._json);
  if (v.isQuantity) return { value: v.value, unit: v.unit };
  if (v.isCode) return stripUndefined({ code: v.code, system: v.system, version: v.version, display: v.display });
  if (v.isConcept) return stripUndefined({ codes: cqlToJson(v.codes, depth + 1), display: v.display });
  if (v.isDate || v.isDateTime) return (v as { toString(): string }).toString();
  if (v.isInterval) {
    return {
      low: cqlToJson(v.low, depth + 1),
      high: cqlToJson(v.high, depth + 1),
      lowClosed: v.lowClosed,
      highClosed: v.highClosed,
    };
  }
  if (v.isRatio)
    return { numerator: cqlToJson(v.numerator, depth + 1), denominator: cqlToJson(v.denominator, depth + 1) };
  if (v.isValueSet) return stripUndefined({ id: v.oid ?? v.id, version: v.version });
  if (v.isUncertainty) return { low: cqlToJson(v.low, depth + 1), high: cqlToJson(v.high, depth + 1) };
  // Tuples are plain objects.
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(v)) out[key] = cqlToJson(child, depth + 1);
  return out;
}

function stripUndefined(obj: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(obj)) if (obj[key] === undefined || obj[key] === null) delete obj[key];
  return obj;
}

/** A FHIR primitive element ({ value, id?, extension? }, as cql-exec-fhir wraps it) becomes its value. */
function fhirJson(json: unknown): unknown {
  if (json && typeof json === 'object' && !Array.isArray(json) && 'value' in json) {
    const keys = Object.keys(json);
    if (keys.every((k) => k === 'value' || k === 'id' || k === 'extension')) return json.value;
  }
  return json;
}
