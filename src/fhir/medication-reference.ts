// MedicationRequest.medicationReference, as EHRs often send it, made visible to CQL: a reference to a
// contained Medication (`#med1`) or to one among the call's data (`Medication/123`, or its full URL) is
// replaced, in the copy CQL sees, by medicationCodeableConcept holding the Medication's code. Published
// logic filters on `medication` as a CodeableConcept ([MedicationRequest: "Opioids"]); with the reference
// alone a real order would silently not be checked.
import type { FhirResource } from './resources.js';

const ORDER_TYPES = new Set([
  'MedicationRequest',
  'MedicationDispense',
  'MedicationAdministration',
  'MedicationStatement',
]);

/** The Medication id a reference names when it is not contained (`Medication/123`, `https://…/Medication/123`). */
export function medicationIdOf(reference: unknown): string | undefined {
  if (typeof reference !== 'string') return undefined;
  const m = /(?:^|\/)Medication\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  return m?.[1];
}

function referenceOf(resource: FhirResource): string | undefined {
  const ref = (resource.medicationReference as { reference?: unknown } | undefined)?.reference;
  return typeof ref === 'string' ? ref : undefined;
}

/** Ids of Medications referenced by these resources that are neither contained nor among `known`. */
export function unresolvedMedicationIds(resources: FhirResource[], known: FhirResource[]): string[] {
  const have = new Set(known.filter((r) => r.resourceType === 'Medication' && r.id).map((r) => r.id));
  const out = new Set<string>();
  for (const r of resources) {
    if (!ORDER_TYPES.has(r.resourceType) || r.medicationCodeableConcept) continue;
    const ref = referenceOf(r);
    if (!ref || ref.startsWith('#')) continue;
    const id = medicationIdOf(ref);
    if (id && !have.has(id)) out.add(id);
  }
  return [...out];
}

/**
 * The resource as CQL should see it: with medicationCodeableConcept from the referenced Medication's code
 * when the reference resolves (contained first, then `medications` by id). Unchanged otherwise, and
 * never mutated: the request's own data stays as sent.
 */
export function withMedicationCode(resource: FhirResource, medications: Map<string, FhirResource>): FhirResource {
  if (!ORDER_TYPES.has(resource.resourceType) || resource.medicationCodeableConcept) return resource;
  const ref = referenceOf(resource);
  if (!ref) return resource;
  let medication: FhirResource | undefined;
  if (ref.startsWith('#')) {
    const contained = Array.isArray(resource.contained) ? (resource.contained as FhirResource[]) : [];
    medication = contained.find((c) => c?.resourceType === 'Medication' && c.id === ref.slice(1));
  } else {
    const id = medicationIdOf(ref);
    medication = id ? medications.get(id) : undefined;
  }
  const code = medication?.code;
  if (!code || typeof code !== 'object') return resource;
  const { medicationReference: _reference, ...rest } = resource;
  return { ...rest, medicationCodeableConcept: code };
}

/** Medications by id, for withMedicationCode. */
export function medicationsById(resources: FhirResource[]): Map<string, FhirResource> {
  const map = new Map<string, FhirResource>();
  for (const r of resources) if (r.resourceType === 'Medication' && r.id) map.set(r.id, r);
  return map;
}
