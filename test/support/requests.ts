import { randomUUID } from 'node:crypto';

export function medicationRequest(id: string, rxnorm: string, text: string, status = 'draft'): Record<string, unknown> {
  return {
    resourceType: 'MedicationRequest',
    id,
    status,
    intent: 'order',
    subject: { reference: 'Patient/p1' },
    medicationCodeableConcept: {
      text,
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: rxnorm }],
    },
  };
}

export function egfrObservation(id: string, value: number, date: string): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '33914-3' }] },
    effectiveDateTime: date,
    valueQuantity: { value, unit: 'mL/min/1.73m2', system: 'http://unitsofmeasure.org', code: 'mL/min/{1.73_m2}' },
  };
}

export function searchset(resources: Array<Record<string, unknown>>): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(resources.length > 0 ? { entry: resources.map((resource) => ({ resource })) } : {}),
  };
}

/** An order-sign request for the test knowledge's renal-test service. */
export function renalRequest({
  drafts = [medicationRequest('d1', '5640', 'Ibuprofen 400 mg')],
  egfr = [egfrObservation('o1', 25, '2026-05-01')],
  prefetch = true,
} = {}): Record<string, unknown> {
  return {
    hook: 'order-sign',
    hookInstance: randomUUID(),
    context: {
      userId: 'Practitioner/abc',
      patientId: 'p1',
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: drafts.map((resource) => ({ resource })) },
    },
    ...(prefetch
      ? { prefetch: { patient: { resourceType: 'Patient', id: 'p1', birthDate: '1950-01-01' }, egfr: searchset(egfr) } }
      : {}),
  };
}
