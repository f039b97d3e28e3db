// Every define of one CQL library for one patient, without a service or a rule set: what `cds eval
// --library` runs for each patient of a batch. The library, its code service and the FHIR model are
// built once and reused; each patient gets its own context.
import { createRequire } from 'node:module';
import type {
  CodeService as CodeServiceType,
  DateTime as DateTimeType,
  PatientContext as PatientContextType,
} from 'cql-execution';
import type { LoadedLibrary } from '../knowledge/index.js';
import { medicationsById, withMedicationCode, type FhirResource } from '../fhir/index.js';
import { cqlToJson } from './cql/to-json.js';
import { fhirDataModel } from './cql/patient-data.js';
import { describeCqlFailure, formatCqlFailure } from './evaluate.js';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as {
  PatientContext: typeof PatientContextType;
  CodeService: typeof CodeServiceType;
  DateTime: typeof DateTimeType;
};

export interface LibraryEvaluation {
  /** Each define's value as JSON (as the `cql` fact holds it); absent for a define that failed. */
  values: Record<string, unknown>;
  /** Why a define failed: define, library, CQL location and the engine's message. */
  errors: Record<string, string>;
  /** Milliseconds per define. */
  timings: Record<string, number>;
}

export interface LibraryEvaluator {
  evaluate(resources: FhirResource[], now: Date): Promise<LibraryEvaluation>;
}

/** `parameters` are CQL values (see knowledge/parameter-values.ts) or, per call, a function of the evaluation time. */
export function libraryEvaluator(
  lib: LoadedLibrary,
  parameters: (now: Date) => Record<string, unknown>,
): LibraryEvaluator {
  const codeService = new cql.CodeService(lib.valueSets as never);
  const model = fhirDataModel();
  const expressions = lib.library.expressions as unknown as Record<
    string,
    { context?: string; execute(ctx: unknown): Promise<unknown> }
  >;
  return {
    async evaluate(resources, now) {
      const byId = medicationsById(resources);
      const patient = resources.find((r) => r.resourceType === 'Patient') ?? { resourceType: 'Patient', id: 'unknown' };
      const record = [patient, ...resources.filter((r) => r !== patient).map((r) => withMedicationCode(r, byId))];
      const context = new cql.PatientContext(
        lib.library,
        model.patientSource(record).currentPatient() as never,
        codeService,
        parameters(now),
        cql.DateTime.fromJSDate(now, 0),
      );
      const out: LibraryEvaluation = { values: {}, errors: {}, timings: {} };
      for (const name of lib.defines) {
        const expression = expressions[name];
        if (!expression || expression.context !== 'Patient') continue;
        const started = performance.now();
        try {
          out.values[name] = cqlToJson(await expression.execute(context));
        } catch (err) {
          out.errors[name] = formatCqlFailure(describeCqlFailure(err, name, lib.file));
        }
        out.timings[name] = performance.now() - started;
      }
      return out;
    },
  };
}
