// The table of patient search parameters is the one the FHIR 4.0.1 search parameters give (regenerate it with
// `npx tsx scripts/generate-patient-search.ts` when they change).
import { describe, expect, it } from 'vitest';
import { PATIENT_SEARCH_PARAMETERS } from '../../src/fhir/index.js';
import { patientSearchTable } from '../../scripts/generate-patient-search.js';

describe('patient search parameters', () => {
  it('are those of the published FHIR R4 search parameters', () => {
    expect(PATIENT_SEARCH_PARAMETERS).toEqual(patientSearchTable());
  });

  it('give patient where a type has it, subject where only that may name a Patient, nothing for the rest', () => {
    expect(PATIENT_SEARCH_PARAMETERS.Observation).toEqual({ parameter: 'patient', paths: ['subject'] });
    expect(PATIENT_SEARCH_PARAMETERS.Coverage).toEqual({ parameter: 'patient', paths: ['beneficiary'] });
    expect(PATIENT_SEARCH_PARAMETERS.AdverseEvent).toEqual({ parameter: 'subject', paths: ['subject'] });
    expect(PATIENT_SEARCH_PARAMETERS.Practitioner).toBeUndefined();
    expect(PATIENT_SEARCH_PARAMETERS.Patient).toBeUndefined();
  });
});
