// MedicationRequest.medicationReference, as EHRs send it: contained and bundled Medications are covered by
// the shipped fixtures (fixtures/requests/*/…-contained-medication, …-bundled-medication); here, a
// Medication read from the FHIR server, and the rules around it.
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { withMedicationCode, medicationsById, unresolvedMedicationIds } from '../../src/fhir/index.js';
import type { Knowledge } from '../../src/knowledge/index.js';
import { fetchMedications } from '../../src/prefetch/index.js';
import { fakeFhir, fhirJson, status } from '../prefetch/fake-fhir.js';
import { knowledgeFrom, repoRoot, testApp } from '../support/app.js';

const FIXTURE_NOW = '2026-06-01T12:00:00Z';
const FHIR = 'https://ehr.example.org/fhir';
const MEDICATION_URL = `${FHIR}/Medication/draft-ibuprofen-medication`;

type Json = Record<string, any>;

/** The bundled-Medication fixture without its Medications: the EHR gives only the reference and its FHIR server. */
function referenceOnly(): { body: Json; medication: Json } {
  const file = join(repoRoot, 'fixtures/requests/nsaid-ckd-order-sign/egfr-22-ibuprofen-bundled-medication.json');
  const body = JSON.parse(readFileSync(file, 'utf8')) as Json;
  const entries = body.context.draftOrders.entry as Array<{ resource: Json }>;
  const medication = entries.find((e) => e.resource.id === 'draft-ibuprofen-medication')!.resource;
  body.context.draftOrders.entry = entries.filter((e) => e.resource.resourceType !== 'Medication');
  // The pantoprazole keeps its code: only the ibuprofen is a bare reference.
  const pantoprazole = entries.find((e) => e.resource.id === 'draft-pantoprazole-medication')!.resource;
  const order = body.context.draftOrders.entry.find((e: Json) => e.resource.id === 'draft-pantoprazole').resource;
  delete order.medicationReference;
  order.medicationCodeableConcept = pantoprazole.code;
  body.fhirServer = FHIR;
  body.fhirAuthorization = {
    access_token: 'tok-medication-5d2e',
    token_type: 'Bearer',
    expires_in: 300,
    scope: 'patient/Medication.read',
    subject: 'cds-service',
  };
  return { body, medication };
}

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(repoRoot);
});

const summaries = (res: { body: { cards: Array<{ summary: string }> } }) => res.body.cards.map((c) => c.summary);

describe('a medicationReference the call does not resolve itself', () => {
  it('is read as Medication/{id} from the FHIR server, with the call token, and CQL sees its code', async () => {
    const { body, medication } = referenceOnly();
    const fhir = fakeFhir({ [MEDICATION_URL]: fhirJson(medication) });
    const app = testApp({ knowledge, now: FIXTURE_NOW, fetchImpl: fhir.fetchImpl });
    const res = await request(app).post('/cds-services/nsaid-ckd-order-sign').send(body).expect(200);
    expect(summaries(res)).toEqual(['Avoid NSAID Ibuprofen 400 mg oral tablet: latest eGFR 22 mL/min/1.73 m²']);
    expect(fhir.urls()).toEqual([MEDICATION_URL]);
    expect(fhir.calls[0].headers.authorization).toBe('Bearer tok-medication-5d2e');
  });

  it('is not read when CDS_MEDICATION_FETCH is off: the order is evaluated without its code', async () => {
    const { body, medication } = referenceOnly();
    const fhir = fakeFhir({ [MEDICATION_URL]: fhirJson(medication) });
    const app = testApp({ knowledge, now: FIXTURE_NOW, fetchImpl: fhir.fetchImpl, config: { medicationFetch: false } });
    const res = await request(app).post('/cds-services/nsaid-ckd-order-sign').send(body).expect(200);
    expect(res.body.cards).toEqual([]);
    expect(fhir.urls()).toEqual([]);
  });

  it('is not read from a FHIR server the prefetch options do not allow', async () => {
    const { body, medication } = referenceOnly();
    const fhir = fakeFhir({ [MEDICATION_URL]: fhirJson(medication) });
    const options = { timeoutMs: 1000, maxPages: 1, fetchImpl: fhir.fetchImpl };
    const ids = ['draft-ibuprofen-medication'];
    expect(
      await fetchMedications(ids, body as never, { ...options, allowedFhirServers: ['https://other.example'] }),
    ).toEqual({ medications: [], failed: 0 });
    expect(fhir.urls()).toEqual([]);
    expect((await fetchMedications(ids, body as never, options)).medications).toEqual([medication]);
  });

  it('is read within the limits of every FHIR request: answer size, deadline, and CQL-computable values', async () => {
    const { body, medication } = referenceOnly();
    const ids = ['draft-ibuprofen-medication'];
    const big = { ...medication, text: { status: 'generated', div: `<div>${'x'.repeat(50_000)}</div>` } };
    const fhir = fakeFhir({ [MEDICATION_URL]: fhirJson(big) });
    const options = { timeoutMs: 1000, maxPages: 1, fetchImpl: fhir.fetchImpl };
    expect(await fetchMedications(ids, body as never, { ...options, maxBytes: 10_000 })).toEqual({
      medications: [],
      failed: 1,
    });
    expect((await fetchMedications(ids, body as never, { ...options, maxBytes: 100_000 })).medications).toHaveLength(1);
    const unbounded = { ...medication, amount: { numerator: { value: 1e25, unit: 'mg' }, denominator: { value: 1 } } };
    const odd = fakeFhir({ [MEDICATION_URL]: fhirJson(unbounded) });
    expect(await fetchMedications(ids, body as never, { ...options, fetchImpl: odd.fetchImpl })).toEqual({
      medications: [],
      failed: 1,
    });
  });

  it('answers as before when the Medication cannot be read', async () => {
    const { body } = referenceOnly();
    const fhir = fakeFhir({ [MEDICATION_URL]: status(404) });
    const app = testApp({ knowledge, now: FIXTURE_NOW, fetchImpl: fhir.fetchImpl });
    const res = await request(app).post('/cds-services/nsaid-ckd-order-sign').send(body).expect(200);
    expect(res.body.cards).toEqual([]);
  });
});

describe('withMedicationCode', () => {
  const code = { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197806' }] };
  const order = (reference: string, contained?: Json[]) => ({
    resourceType: 'MedicationRequest',
    id: 'o',
    medicationReference: { reference },
    ...(contained ? { contained } : {}),
  });

  it('takes the code of a contained Medication, without changing the request it was given', () => {
    const original = order('#m', [{ resourceType: 'Medication', id: 'm', code }]);
    const seen = withMedicationCode(original, new Map());
    expect(seen.medicationCodeableConcept).toEqual(code);
    expect(seen.medicationReference).toBeUndefined();
    expect(original.medicationReference).toEqual({ reference: '#m' });
  });

  it('takes the code of a bundled Medication named by relative or absolute URL', () => {
    const byId = medicationsById([{ resourceType: 'Medication', id: 'm-1', code }]);
    expect(withMedicationCode(order('Medication/m-1'), byId).medicationCodeableConcept).toEqual(code);
    expect(withMedicationCode(order(`${FHIR}/Medication/m-1/_history/2`), byId).medicationCodeableConcept).toEqual(
      code,
    );
  });

  it('leaves alone what it cannot resolve, and names only what must be read', () => {
    const unresolved = order('Medication/elsewhere');
    expect(withMedicationCode(unresolved, new Map())).toBe(unresolved);
    const containedOnly = order('#missing');
    expect(unresolvedMedicationIds([unresolved, containedOnly], [])).toEqual(['elsewhere']);
    expect(unresolvedMedicationIds([unresolved], [{ resourceType: 'Medication', id: 'elsewhere' }])).toEqual([]);
  });
});
