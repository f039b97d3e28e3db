// The simulated clinic's people and visits, with known truth: which patients' kidney function makes
// the NSAID-in-CKD card fire, who calls, for whom, with which drafted NSAID. Everything follows from
// the seed, so two runs with the same options make the same calls in the same order.
import { randomUUID } from 'node:crypto';
import {
  NSAID_KEYS,
  OTHER_DRAFT_KEYS,
  type DraftMedicationKey,
  type FixtureGenerator,
  type GeneratedBundle,
  type GeneratorRng,
  type KidneyScenario,
} from './fixture-generator.js';

/** How a patient's record decides the NSAID-in-CKD rules (rule set nsaid-ckd). */
export type KidneyProfile = 'egfr-below-30' | 'ckd-stage-4-5' | 'egfr-30-or-more' | 'no-kidney-data';

export interface SimulatedPatient {
  id: string;
  /** True when the shipped nsaid-ckd rules give one card for a drafted NSAID. */
  fires: boolean;
  profile: KidneyProfile;
  record: GeneratedBundle;
}

export interface PlannedCall {
  index: number;
  practitionerId: string;
  patient: SimulatedPatient;
  drafts: Array<{ id: string; medication: DraftMedicationKey }>;
  /** The drafted NSAID, as `MedicationRequest/<id>` (the selection at order-select). */
  nsaidReference: string;
  /** Seeds the clinician's decisions on this call's cards, whatever order the answers arrive in. */
  decisionSeed: number;
}

export interface PopulationOptions {
  seed: number;
  patients: number;
  practitioners: number;
  calls: number;
  fireShare: number;
}

const MAX_SEED = 2 ** 31 - 1;

/** Patients 0 … round(fireShare × patients) − 1 fire; the profile and the record vary within each group. */
export function buildPatients(generator: FixtureGenerator, options: PopulationOptions): SimulatedPatient[] {
  const rng = generator.createRng(options.seed);
  const firing = Math.round(options.fireShare * options.patients);
  const patients: SimulatedPatient[] = [];
  for (let i = 0; i < options.patients; i++) {
    const fires = i < firing;
    const patientSeed = rng.int(1, MAX_SEED);
    const r = generator.createRng(patientSeed);
    const profile: KidneyProfile = fires
      ? r.chance(0.75)
        ? 'egfr-below-30'
        : 'ckd-stage-4-5'
      : r.chance(0.75)
        ? 'egfr-30-or-more'
        : 'no-kidney-data';
    const id = `sim-${options.seed}-pt-${i + 1}`;
    const record = generator.generatePatient(scenarioFor(profile, patientSeed, r), patientSeed, { patientId: id });
    patients.push({ id, fires, profile, record });
  }
  return patients;
}

function scenarioFor(profile: KidneyProfile, seed: number, r: GeneratorRng): KidneyScenario {
  const age = r.int(45, 90);
  const latestDaysAgo = r.int(1, 90);
  const earlier = { daysAgo: latestDaysAgo + r.int(60, 400), value: r.int(30, 70) };
  const background = r.chance(0.5) ? [{ key: 'hypertension' as const, onsetDaysAgo: r.int(500, 5000) }] : [];
  switch (profile) {
    case 'egfr-below-30':
      return {
        summary: 'latest eGFR below 30',
        seed,
        age,
        egfr: [earlier, { daysAgo: latestDaysAgo, value: r.int(8, 29) }],
        conditions: [
          ...background,
          ...(r.chance(0.5) ? [{ key: r.pick(['ckd3', 'ckd4'] as const), onsetDaysAgo: 900 }] : []),
        ],
      };
    case 'ckd-stage-4-5':
      return {
        summary: 'CKD stage 4-5 or ESRD on the problem list, no eGFR',
        seed,
        age,
        conditions: [...background, { key: r.pick(['ckd4', 'ckd5', 'esrd'] as const), onsetDaysAgo: r.int(100, 2000) }],
      };
    case 'egfr-30-or-more': {
      const latest = r.int(30, 95);
      return {
        summary: 'latest eGFR 30 or more',
        seed,
        age,
        egfr: [earlier, { daysAgo: latestDaysAgo, value: latest }],
        conditions: [
          ...background,
          ...(latest < 60 && r.chance(0.5) ? [{ key: 'ckd3' as const, onsetDaysAgo: 700 }] : []),
        ],
      };
    }
    case 'no-kidney-data':
      return {
        summary: 'no eGFR and no CKD on record',
        seed,
        age,
        conditions: [...background, { key: r.pick(['osteoarthritisKnee', 'lowBackPain'] as const), onsetDaysAgo: 60 }],
      };
  }
}

/** One call per visit: a practitioner and a patient drawn at random, one NSAID drafted, sometimes another drug too. */
export function planCalls(
  generator: FixtureGenerator,
  options: PopulationOptions,
  patients: SimulatedPatient[],
): PlannedCall[] {
  // A stream of its own, so that the visits do not shift when the patients' records change.
  const rng = generator.createRng((options.seed ^ 0x5bd1e995) >>> 0);
  const calls: PlannedCall[] = [];
  for (let index = 0; index < options.calls; index++) {
    const practitioner = rng.int(1, options.practitioners);
    const patient = patients[rng.int(0, patients.length - 1)];
    const nsaid = rng.pick(NSAID_KEYS);
    const other = rng.chance(0.3) ? rng.pick(OTHER_DRAFT_KEYS) : undefined;
    const nsaidId = `sim-order-${index + 1}-1`;
    calls.push({
      index,
      practitionerId: `sim-${options.seed}-dr-${practitioner}`,
      patient,
      drafts: [
        { id: nsaidId, medication: nsaid },
        ...(other ? [{ id: `sim-order-${index + 1}-2`, medication: other }] : []),
      ],
      nsaidReference: `MedicationRequest/${nsaidId}`,
      decisionSeed: rng.int(1, MAX_SEED),
    });
  }
  return calls;
}

export interface HookRequestBody {
  hook: string;
  hookInstance: string;
  context: Record<string, unknown>;
  prefetch: Record<string, unknown>;
}

/**
 * The request an EHR would send: context per the hook, the drafts, and each prefetch key the generator
 * can answer from the patient's record. Keys it cannot answer are left out and named in `omitted`.
 */
export function hookRequest(
  generator: FixtureGenerator,
  service: { hook: string; prefetch?: Record<string, string> },
  call: PlannedCall,
): { body: HookRequestBody; omitted: string[] } {
  const patientId = call.patient.id;
  const encounterId = generator.currentEncounterId(patientId);
  const userId = `Practitioner/${call.practitionerId}`;
  const entry = call.drafts.map((d) => ({
    resource: generator.draftOrder(
      { kind: 'medication', id: d.id, medication: d.medication },
      patientId,
      encounterId,
      userId,
    ),
  }));
  const context: Record<string, unknown> = {
    userId,
    patientId,
    encounterId,
    ...(service.hook === 'order-select' ? { selections: [call.nsaidReference] } : {}),
    draftOrders: { resourceType: 'Bundle', type: 'collection', entry },
  };
  const prefetch: Record<string, unknown> = {};
  const omitted: string[] = [];
  for (const [key, template] of Object.entries(service.prefetch ?? {})) {
    try {
      Object.assign(prefetch, generator.prefetchFromTemplates({ [key]: template }, call.patient.record, context));
    } catch {
      omitted.push(key);
    }
  }
  return { body: { hook: service.hook, hookInstance: randomUUID(), context, prefetch }, omitted };
}
