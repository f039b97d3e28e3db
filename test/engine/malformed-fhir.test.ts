// FHIR JSON of the wrong shape makes the CQL engine fail. The caller gets a 400 naming where its
// data is wrong (never the values), not a 500 that reads like a server fault.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { egfrObservation, medicationRequest, renalRequest, searchset } from '../support/requests.js';
import { fhirShapeProblems, fhirModelInfo } from '../../src/fhir/index.js';
import type { Knowledge } from '../../src/knowledge/index.js';
import type { Config } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { captureLogs } from '../support/logs.js';

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

const appWith = (config: Partial<Config>, logger?: Logger): Express =>
  testApp({ knowledge, now: '2026-06-01T12:00:00Z', config, deps: logger ? { logger } : {} });

const withDraft = (draft: Record<string, unknown>) => renalRequest({ drafts: [draft] });

const codingAsString = {
  ...medicationRequest('d1', '5640', 'Ibuprofen'),
  medicationCodeableConcept: { coding: 'abc' },
};
const conceptAsString = { ...medicationRequest('d1', '5640', 'Ibuprofen'), medicationCodeableConcept: 'ibuprofen' };
const quantityAsArray = { ...egfrObservation('o1', 25, '2026-05-01'), valueQuantity: [{ value: 25 }] };

describe('malformed FHIR data in a hook call', () => {
  it('answers 400 naming the place, not 500, when the data makes the evaluation fail, whatever the check mode', async () => {
    const expected =
      'context.draftOrders.entry[0].resource.medicationCodeableConcept.coding: expected an array of Coding, got a string';
    for (const fhirCheck of ['warn', 'off'] as const) {
      const res = await request(appWith({ fhirCheck }))
        .post('/cds-services/renal-test')
        .send(withDraft(codingAsString));
      expect(res.status).toBe(400);
      expect(res.body.issue).toEqual([
        {
          severity: 'error',
          code: 'structure',
          diagnostics: expected,
          expression: ['context.draftOrders.entry[0].resource.medicationCodeableConcept.coding'],
        },
      ]);
      expect(JSON.stringify(res.body)).not.toContain('abc');
    }
  });

  it('evaluates malformed data that does not fail, and logs where it is malformed (warn, the default)', async () => {
    const logs = captureLogs();
    const res = await request(appWith({}, logs.logger))
      .post('/cds-services/renal-test')
      .send(renalRequest({ drafts: [conceptAsString], egfr: [quantityAsArray] }));
    expect(res.status).toBe(200);
    const line = logs.lines.find((l) => l.message === 'malformed FHIR data in the call, evaluated anyway');
    expect(line?.problems).toEqual([
      'context.draftOrders.entry[0].resource.medicationCodeableConcept: expected a CodeableConcept (a JSON object), got a string',
      'prefetch.egfr.entry[0].resource.valueQuantity: expected one Quantity, got an array',
    ]);
    expect(logs.text()).not.toContain('ibuprofen');
  });

  it('answers 400 naming every place before evaluating when set to reject', async () => {
    const res = await request(appWith({ fhirCheck: 'reject' }))
      .post('/cds-services/renal-test')
      .send(renalRequest({ drafts: [conceptAsString], egfr: [quantityAsArray] }));
    expect(res.status).toBe(400);
    expect(res.body.issue.map((i: { expression: string[] }) => i.expression[0])).toEqual([
      'context.draftOrders.entry[0].resource.medicationCodeableConcept',
      'prefetch.egfr.entry[0].resource.valueQuantity',
    ]);
  });

  it('still answers 200 for well-formed data with unknown elements, nulls and primitive extensions, even when set to reject', async () => {
    const draft = {
      ...medicationRequest('d1', '5640', 'Ibuprofen 400 mg'),
      localThing: { a: 1 },
      note: null,
      _status: { extension: [] },
    };
    const res = await request(appWith({ fhirCheck: 'reject' }))
      .post('/cds-services/renal-test')
      .send(withDraft(draft));
    expect(res.status).toBe(200);
    expect(res.body.cards).toHaveLength(1);
  });
});

describe('fhirShapeProblems', () => {
  it('finds nothing wrong in well-formed resources, choice elements and contained resources included', () => {
    const observation = egfrObservation('o1', 25, '2026-05-01');
    expect(
      fhirShapeProblems(
        searchset([
          observation,
          { ...medicationRequest('m', '1', 'x'), contained: [{ resourceType: 'Medication', code: { text: 'x' } }] },
        ]),
        'b',
      ),
    ).toEqual([]);
  });

  it('reports primitives given as objects, single values given as arrays, and resources without a type', () => {
    expect(
      fhirShapeProblems(
        {
          resourceType: 'Observation',
          status: { value: 'final' },
          subject: [{ reference: 'Patient/1' }],
          effectiveDateTime: ['2026'],
        },
        'o',
      ),
    ).toEqual([
      'o.status: expected a ObservationStatus (a JSON string), got an object',
      'o.subject: expected one Reference, got an array',
      'o.effectiveDateTime: expected one dateTime, got an array',
    ]);
    expect(fhirShapeProblems({ resourceType: 'Bundle', entry: [{ resource: { id: 'x' } }] }, 'b')).toEqual([
      'b.entry[0].resource.resourceType: expected the resource type as a string, got a undefined',
    ]);
  });

  it('reports primitives of the wrong JSON type, numbers CQL cannot hold, and nulls among complex values', () => {
    const observation = {
      resourceType: 'Observation',
      issued: 20260601,
      valueQuantity: { value: 1e308, unit: 'mg' },
      code: { coding: [null, { code: 5, userSelected: 'yes' }] },
      performer: [null],
    };
    expect(fhirShapeProblems(observation, 'o')).toEqual([
      'o.issued: expected a instant (a JSON string), got a number',
      "o.valueQuantity.value: the decimal is outside the range of CQL's Decimal (at most 20 digits before the point)",
      'o.code.coding[0]: expected a Coding (a JSON object), got null',
      'o.code.coding[1].code: expected a code (a JSON string), got a number',
      'o.code.coding[1].userSelected: expected a boolean (a JSON boolean), got a string',
      'o.performer[0]: expected a Reference (a JSON object), got null',
    ]);
    // A null lines a primitive up with its extensions: allowed.
    expect(
      fhirShapeProblems(
        { resourceType: 'Patient', name: [{ given: ['A', null], _given: [null, { extension: [] }] }] },
        'p',
      ),
    ).toEqual([]);
  });

  it('reports a Quantity whose system is UCUM and whose code is not a UCUM unit', () => {
    const ok = egfrObservation('o1', 25, '2026-05-01');
    expect(fhirShapeProblems(ok, 'o')).toEqual([]);
    const bad = { ...ok, valueQuantity: { value: 25, system: 'http://unitsofmeasure.org', code: 'mL per min' } };
    expect(fhirShapeProblems(bad, 'o')).toEqual(['o.valueQuantity.code: not a UCUM unit, though the system says UCUM']);
    // Without the UCUM system the code is the sender's own.
    expect(fhirShapeProblems({ ...ok, valueQuantity: { value: 25, code: 'mL per min' } }, 'o')).toEqual([]);
  });

  it('accepts ids on elements and extension urls (System types in the model), and checks their JSON type', () => {
    const patient = {
      resourceType: 'Patient',
      id: 'p',
      name: [{ id: 'n1', family: 'X', extension: [{ id: 'e', url: 'http://example.org/x', valueString: 'y' }] }],
      telecom: [{ id: 't', system: 'phone', value: '1' }],
    };
    expect(fhirShapeProblems(patient, 'p')).toEqual([]);
    expect(fhirShapeProblems({ ...patient, name: [{ id: 5 }] }, 'p')).toEqual([
      'p.name[0].id: expected a String (a JSON string), got a number',
    ]);
  });

  it('does not look up long or odd element names and resource types in the model (its look-up is quadratic in the length)', () => {
    const patientClass = fhirModelInfo().findClass('FHIR.Patient')!;
    const lookUp = vi.spyOn(patientClass, 'findElement');
    const key = `a0${'B'.repeat(16000)}`;
    expect(fhirShapeProblems({ resourceType: 'Patient', [key]: 1, 'odd-name': 2, gender: 'other' }, 'p')).toEqual([]);
    expect(lookUp.mock.calls.map(([name]) => name)).toEqual(['gender']);
    lookUp.mockRestore();
    const findClass = vi.spyOn(fhirModelInfo(), 'findClass');
    expect(fhirShapeProblems({ resourceType: 'X'.repeat(100000) }, 'p')).toEqual([]);
    expect(findClass).not.toHaveBeenCalled();
    findClass.mockRestore();
  });

  it('stops at the limit', () => {
    const many = { resourceType: 'Bundle', entry: Array.from({ length: 50 }, () => ({ resource: 'x' })) };
    expect(fhirShapeProblems(many, 'b', 5)).toHaveLength(5);
  });
});
