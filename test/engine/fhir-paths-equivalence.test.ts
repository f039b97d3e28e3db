// The engine's FHIR data layer (src/engine/cql/) must give CQL what stock cql-exec-fhir gives on FHIR paths
// the shipped libraries never read: choice types, primitives with extensions (`_birthDate`), lists of primitives
// with null entries, contained resources, partial and zoned date-times, decimals, casts, FHIRHelpers
// conversions, equality of FHIR objects, distinct, sort by, retrieves with codes, value sets and date ranges.
import { beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import type { Library as LibraryType } from 'cql-execution';
import { fhirDataModel } from '../../src/engine/index.js';
import type { FhirResource } from '../../src/fhir/index.js';
import { DEFAULT_TRANSLATOR_OPTIONS } from '../../src/knowledge/cql/options.js';
import { compiledWithFhirHelpers } from '../support/cql-library.js';
import { canonical, stockAndEngine } from '../support/stock-fhir.js';

const require = createRequire(import.meta.url);

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const UCUM = 'http://unitsofmeasure.org';
const VALUE_SETS = {
  'http://example.org/fhir/ValueSet/small': {
    '1.0.0': [
      { code: '2345-7', system: LOINC },
      { code: '4548-4', system: LOINC },
      { code: '44054006', system: SNOMED },
      { code: '197806', system: RXNORM },
      { code: '140', system: 'http://hl7.org/fhir/sid/cvx' },
    ],
  },
};

const absent = (code: string) => ({
  extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: code }],
});
const cc = (system: string, code: string, display?: string, extra: Record<string, unknown> = {}) => ({
  coding: [{ system, code, ...(display ? { display } : {}), ...extra }],
});
const subject = { reference: 'Patient/pt-paths' };

const PATIENT: FhirResource = {
  resourceType: 'Patient',
  id: 'pt-paths',
  meta: { lastUpdated: '2024-01-01T00:00:00.000Z', profile: ['http://example.org/StructureDefinition/pt'] },
  extension: [
    { url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex', valueCode: 'F' },
    {
      url: 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race',
      extension: [
        { url: 'ombCategory', valueCoding: { system: 'urn:oid:2.16.840.1.113883.6.238', code: '2106-3' } },
        { url: 'text', valueString: 'White' },
      ],
    },
  ],
  modifierExtension: [{ url: 'http://example.org/fhir/StructureDefinition/confidential', valueBoolean: true }],
  identifier: [
    { system: 'urn:mrn', value: 'MRN-1', type: cc('http://terminology.hl7.org/CodeSystem/v2-0203', 'MR') },
    { system: 'urn:mrn', value: 'MRN-1' },
    { use: 'old', value: 'OLD-1', period: { end: '2019-05' } },
    { system: 'urn:ssn', _value: absent('masked') },
  ],
  active: true,
  name: [
    {
      use: 'official',
      family: 'Doe',
      given: ['Ann', null, 'Marie'],
      _given: [null, { extension: [{ url: 'http://example.org/initial', valueString: 'B' }] }, { id: 'g3' }],
    },
    { given: ['Solo'], period: { start: '2001' } },
    { _family: absent('unknown') },
  ],
  telecom: [
    { system: 'phone', value: '555-0100', rank: 1 },
    { system: 'email', rank: 2, _value: absent('masked') },
  ],
  gender: 'female',
  _gender: { extension: [{ url: 'http://example.org/gender-source', valueString: 'self' }] },
  birthDate: '1970-05',
  _birthDate: {
    extension: [
      { url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1970-05-12T10:15:00-05:00' },
    ],
  },
  deceasedBoolean: false,
  multipleBirthInteger: 2,
  address: [{ line: ['1 Main St', 'Apt 2'], city: 'Springfield', period: { start: '2010-01-01' } }],
  contained: [{ resourceType: 'Organization', id: 'org', name: 'Clinic' }],
  managingOrganization: { reference: '#org', display: 'Clinic' },
  communication: [{ language: { ...cc('urn:ietf:bcp:47', 'en'), text: 'English' }, preferred: true }],
};

const observation = (id: string, fields: Record<string, unknown>): FhirResource => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: cc(LOINC, '2345-7', 'Glucose'),
  subject,
  ...fields,
});

const OBSERVATIONS: FhirResource[] = [
  observation('o-qty', {
    category: [cc('http://terminology.hl7.org/CodeSystem/observation-category', 'laboratory')],
    valueQuantity: { value: 1.5, comparator: '<', unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
    effectiveDateTime: '2024-03-01T08:30:00.123Z',
    issued: '2024-03-01T09:00:00.000+01:00',
    referenceRange: [{ low: { value: 70, unit: 'mg/dL' }, high: { value: 99, unit: 'mg/dL' } }],
  }),
  observation('o-qty-2', {
    code: cc(LOINC, '2345-7', undefined, { version: '2.74' }),
    valueQuantity: { value: 120, unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
    effectiveDateTime: '2024-03-02T08:30:00+02:00',
    issued: '2024-03-02T06:30:00Z',
  }),
  // The same effective time, written the same, as o-qty: a tie for a sort by effective time.
  observation('o-qty-tie', {
    valueQuantity: { value: 1.5, comparator: '<', unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
    effectiveDateTime: '2024-03-01T08:30:00.123Z',
    issued: '2024-03-01T09:00:00.000+01:00',
  }),
  observation('o-qty-3', {
    code: cc(LOINC, '4548-4', 'HbA1c'),
    valueQuantity: { value: 12345678901234.568, unit: '%' },
    effectiveDateTime: '2024-03-02T06:30:00Z',
    // The instant o-qty was issued, written at another offset.
    issued: '2024-03-01T08:00:00.000Z',
  }),
  observation('o-cc', {
    status: 'amended',
    code: cc(LOINC, '5196-1'),
    valueCodeableConcept: { ...cc(SNOMED, '260385009', 'Negative'), text: 'Negative' },
    effectivePeriod: { start: '2024-02-01' },
  }),
  observation('o-string', {
    code: { text: 'free text only' },
    valueString: 'positive',
    effectiveInstant: '2024-01-15T10:00:00Z',
  }),
  observation('o-bool', { valueBoolean: false, effectiveDateTime: '2023', status: 'preliminary' }),
  observation('o-int', { valueInteger: 0, effectiveDateTime: '2023-07', status: 'cancelled' }),
  observation('o-period', {
    valuePeriod: { end: '2022-12-31T23:59:59+14:00' },
    effectiveDateTime: '2022-01-01T00:00:00',
  }),
  observation('o-range', {
    valueRange: { low: { value: -0.0, unit: 'mmol/L', system: UCUM, code: 'mmol/L' }, high: { value: 7.25 } },
    effectiveDateTime: '2021-06-01T12:00:00-00:00',
  }),
  observation('o-ratio', {
    valueRatio: {
      numerator: { value: 1, unit: 'mg', system: UCUM, code: 'mg' },
      denominator: { value: 2, unit: 'mL', system: UCUM, code: 'mL' },
    },
    effectiveDateTime: '2021-06-01T12:00:00.5+05:30',
  }),
  observation('o-time', { valueTime: '10:15:30', effectiveDateTime: '2020-02-29T23:59:59.999-03:00' }),
  observation('o-time-ms', { valueTime: '23:59:59.5', effectiveDateTime: '2020-03-01T02:59:59.999Z' }),
  observation('o-datetime', { valueDateTime: '2024-05-05T05:05', effectiveDateTime: '2024-05-05' }),
  observation('o-absent', {
    _valueString: absent('asked-unknown'),
    dataAbsentReason: cc('http://terminology.hl7.org/CodeSystem/data-absent-reason', 'asked-unknown'),
    _effectiveDateTime: absent('unknown'),
  }),
  observation('o-components', {
    code: cc(LOINC, '85354-9', 'Blood pressure'),
    effectiveDateTime: '2024-04-01T10:00:00Z',
    component: [
      { code: cc(LOINC, '8480-6'), valueQuantity: { value: 140, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' } },
      { code: cc(LOINC, '8462-4'), valueQuantity: { value: 90, unit: 'mm[Hg]', system: UCUM, code: 'mm[Hg]' } },
      { code: cc(LOINC, '8478-0'), dataAbsentReason: cc('http://example.org/dar', 'error') },
    ],
    hasMember: [{ reference: 'Observation/o-qty' }],
    note: [{ text: 'Left arm', time: '2024-04-01T10:01:00Z' }],
  }),
];

const CONDITIONS: FhirResource[] = [
  {
    resourceType: 'Condition',
    id: 'c-dt',
    clinicalStatus: cc('http://terminology.hl7.org/CodeSystem/condition-clinical', 'active'),
    verificationStatus: cc('http://terminology.hl7.org/CodeSystem/condition-ver-status', 'confirmed'),
    category: [cc('http://terminology.hl7.org/CodeSystem/condition-category', 'problem-list-item')],
    code: cc(SNOMED, '44054006', 'Diabetes mellitus type 2'),
    subject,
    onsetDateTime: '2020-05',
    abatementDateTime: '2021',
    recordedDate: '2020-06-01T00:00:00Z',
  },
  {
    resourceType: 'Condition',
    id: 'c-age',
    code: cc(SNOMED, '38341003'),
    subject,
    onsetAge: { value: 40, unit: 'a', system: UCUM, code: 'a' },
    abatementBoolean: true,
  },
  {
    resourceType: 'Condition',
    id: 'c-period',
    code: cc(SNOMED, '195967001'),
    subject,
    onsetPeriod: { start: '2019-01-01' },
    abatementString: 'resolved in childhood',
  },
  {
    resourceType: 'Condition',
    id: 'c-range',
    code: cc(SNOMED, '44054006'),
    subject,
    onsetRange: { low: { value: 10, unit: 'a', system: UCUM, code: 'a' }, high: { value: 12, unit: 'a' } },
    abatementAge: { value: 15, comparator: '>', unit: 'a', system: UCUM, code: 'a' },
  },
  {
    resourceType: 'Condition',
    id: 'c-string',
    code: {
      coding: [
        { system: SNOMED, code: '73211009' },
        { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'E11' },
      ],
    },
    subject,
    onsetString: 'childhood',
    abatementPeriod: { end: '2010-07-01T00:00:00Z' },
  },
];

const MEDICATION_REQUESTS: FhirResource[] = [
  {
    resourceType: 'MedicationRequest',
    id: 'mr-cc',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: cc(RXNORM, '197806', 'Ibuprofen 600 MG Oral Tablet'),
    subject,
    authoredOn: '2024-01-01T10:00:00+00:00',
    dosageInstruction: [
      {
        sequence: 1,
        timing: {
          repeat: {
            frequency: 2,
            period: 1,
            periodUnit: 'd',
            boundsPeriod: { start: '2024-01-01', end: '2024-01-31' },
          },
        },
        asNeededBoolean: true,
        doseAndRate: [{ doseQuantity: { value: 400, unit: 'mg', system: UCUM, code: 'mg' } }],
      },
    ],
    dispenseRequest: {
      numberOfRepeatsAllowed: 3,
      quantity: { value: 60, unit: '{tablet}' },
      expectedSupplyDuration: { value: 30, unit: 'days', system: UCUM, code: 'd' },
    },
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr-contained',
    contained: [{ resourceType: 'Medication', id: 'med1', code: cc(RXNORM, '1049502', 'Oxycodone') }],
    status: 'stopped',
    intent: 'plan',
    medicationReference: { reference: '#med1' },
    subject,
    authoredOn: '2023-12',
    dosageInstruction: [{ doseAndRate: [{ doseRange: { low: { value: 1 }, high: { value: 2 } } }] }],
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr-contained-2',
    // Another Medication under the same local id.
    contained: [{ resourceType: 'Medication', id: 'med1', code: cc(RXNORM, '197806') }],
    status: 'active',
    intent: 'order',
    medicationReference: { reference: '#med1' },
    subject,
    authoredOn: '2024-05-05T05:05+02:00',
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr-ref',
    status: 'active',
    intent: 'order',
    medicationReference: { reference: 'Medication/m2', display: 'Naproxen' },
    subject,
    authoredOn: '2024-02-02T02:02:02.002-08:00',
  },
];

const OTHERS: FhirResource[] = [
  {
    resourceType: 'Encounter',
    id: 'e-1',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    type: [cc(SNOMED, '185349003', 'Encounter for check up')],
    subject,
    period: { start: '2024-01-01T08:00:00Z', end: '2024-01-01T09:00:00Z' },
    length: { value: 60, unit: 'min', system: UCUM, code: 'min' },
    diagnosis: [{ condition: { reference: 'Condition/c-dt' }, rank: 1 }],
  },
  {
    resourceType: 'Encounter',
    id: 'e-2',
    status: 'in-progress',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
    subject,
    period: { start: '2024-02-01' },
  },
  {
    resourceType: 'Encounter',
    id: 'e-3',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    subject,
    // e-1's period, written at other offsets.
    period: { start: '2024-01-01T08:00:00+00:00', end: '2024-01-01T10:00:00+01:00' },
  },
  {
    resourceType: 'Procedure',
    id: 'p-1',
    status: 'completed',
    code: cc(SNOMED, '80146002'),
    subject,
    performedPeriod: { start: '2023-03-03T10:00:00Z', end: '2023-03-03T11:30:00Z' },
  },
  {
    resourceType: 'Procedure',
    id: 'p-2',
    status: 'completed',
    code: cc(SNOMED, '80146002'),
    subject,
    performedDateTime: '2022-11',
  },
  {
    resourceType: 'Procedure',
    id: 'p-3',
    status: 'not-done',
    code: cc(SNOMED, '387713003'),
    subject,
    performedString: 'last year',
  },
  {
    resourceType: 'AllergyIntolerance',
    id: 'a-1',
    clinicalStatus: cc('http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', 'active'),
    type: 'allergy',
    category: ['medication', 'food'],
    _category: [null, { extension: [{ url: 'http://example.org/note', valueString: 'mild' }] }],
    criticality: 'high',
    code: cc(RXNORM, '7980', 'Penicillin G'),
    patient: subject,
    onsetDateTime: '2001',
    reaction: [{ manifestation: [cc(SNOMED, '271807003', 'Rash')], severity: 'moderate' }],
  },
  {
    resourceType: 'Immunization',
    id: 'i-1',
    status: 'completed',
    vaccineCode: cc('http://hl7.org/fhir/sid/cvx', '140'),
    patient: subject,
    occurrenceDateTime: '2023-10-10',
    expirationDate: '2024-06-30',
    primarySource: true,
    doseQuantity: { value: 0.5, unit: 'mL', system: UCUM, code: 'mL' },
    protocolApplied: [{ doseNumberPositiveInt: 1, seriesDosesPositiveInt: 2 }],
  },
  {
    resourceType: 'Immunization',
    id: 'i-2',
    status: 'not-done',
    vaccineCode: cc('http://hl7.org/fhir/sid/cvx', '208'),
    patient: subject,
    occurrenceString: 'childhood',
    expirationDate: '2024-06-30',
    protocolApplied: [{ doseNumberString: 'booster' }],
  },
  {
    resourceType: 'ServiceRequest',
    id: 'sr-1',
    status: 'active',
    intent: 'order',
    priority: 'urgent',
    code: cc(SNOMED, '241615005', 'MRI of lumbar spine'),
    subject,
    occurrenceDateTime: '2024-05-01T09:00:00-04:00',
    authoredOn: '2024-04-30',
    quantityQuantity: { value: 1 },
  },
  {
    resourceType: 'DiagnosticReport',
    id: 'dr-1',
    status: 'final',
    code: cc(LOINC, '24323-8'),
    subject,
    effectivePeriod: { start: '2024-03-01T08:00:00Z' },
    issued: '2024-03-01T12:00:00.000Z',
    result: [{ reference: 'Observation/o-qty' }, { reference: 'Observation/o-qty-2' }],
    conclusionCode: [cc(SNOMED, '44054006')],
  },
];

const RESOURCES = [PATIENT, ...OBSERVATIONS, ...CONDITIONS, ...MEDICATION_REQUESTS, ...OTHERS];

// Another record: the other choices of Patient, a birth date given by its extension only, codes without a system,
// empty codings, codes given by their extensions only, and one resource of each kind with next to nothing in it.
const subject2 = { reference: 'Patient/pt-sparse' };
const SPARSE: FhirResource[] = [
  {
    resourceType: 'Patient',
    id: 'pt-sparse',
    _birthDate: absent('unknown'),
    deceasedDateTime: '2025-12-31T23:59:59-12:00',
    multipleBirthBoolean: true,
    _active: { id: 'active-id' },
    name: [{ family: 'X', given: [null, 'Y'], _given: [{ id: 'g1' }, null] }],
    address: [{ line: [null], _line: [absent('masked')] }],
    gender: 'unknown',
  },
  {
    resourceType: 'Observation',
    id: 's-o1',
    status: 'final',
    code: { coding: [{ code: '2345-7' }] },
    subject: subject2,
    valueQuantity: { value: 5 },
  },
  {
    resourceType: 'Observation',
    id: 's-o2',
    status: 'final',
    code: { coding: [] },
    subject: subject2,
    effectivePeriod: { end: '2024-01-01T00:00:00.000+00:00' },
  },
  {
    resourceType: 'Observation',
    id: 's-o3',
    status: 'final',
    code: {
      coding: [
        { system: LOINC, _code: absent('unknown') },
        { system: LOINC, code: '4548-4' },
      ],
    },
    subject: subject2,
    effectiveDateTime: '2024-01-01T00:00:00Z',
    valueCodeableConcept: { text: 'no codes' },
  },
  { resourceType: 'Observation', id: 's-o4', status: 'final', code: { text: 'nothing else' }, subject: subject2 },
  {
    resourceType: 'Condition',
    id: 's-c1',
    code: { coding: [{ system: 'http://snomed.info/sct/', code: '44054006' }, { code: '44054006' }] },
    subject: subject2,
  },
  { resourceType: 'Condition', id: 's-c2', subject: subject2 },
  { resourceType: 'MedicationRequest', id: 's-m1', status: 'active', intent: 'order', subject: subject2 },
  {
    resourceType: 'MedicationRequest',
    id: 's-m2',
    status: 'active',
    intent: 'order',
    subject: subject2,
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: '197806', version: '2024-01' }] },
  },
  { resourceType: 'Encounter', id: 's-e1', status: 'planned', class: { code: 'AMB' }, subject: subject2 },
  { resourceType: 'Procedure', id: 's-p1', status: 'unknown', code: { text: 'x' }, subject: subject2 },
  { resourceType: 'AllergyIntolerance', id: 's-a1', patient: subject2, _category: [absent('unknown')] },
  {
    resourceType: 'Immunization',
    id: 's-i1',
    status: 'completed',
    vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
    patient: subject2,
    _occurrenceDateTime: absent('unknown'),
  },
  { resourceType: 'ServiceRequest', id: 's-s1', status: 'draft', intent: 'plan', subject: subject2 },
  { resourceType: 'DiagnosticReport', id: 's-d1', status: 'final', code: { text: 'y' }, subject: subject2 },
];

const HEADER = (name: string) => `library ${name} version '1.0.0'
using FHIR version '4.0.1'
include FHIRHelpers version '4.0.1' called FHIRHelpers
codesystem "LOINC": '${LOINC}'
codesystem "SNOMED": '${SNOMED}'
valueset "Small": 'http://example.org/fhir/ValueSet/small'
code "Glucose": '2345-7' from "LOINC" display 'Glucose'
code "Diabetes": '44054006' from "SNOMED"
code "Diabetes type 2": '73211009' from "SNOMED"
concept "Diabetes concept": { "Diabetes", "Diabetes type 2" } display 'Diabetes'
parameter "Drafts" List<MedicationRequest>
context Patient
`;

const PATIENT_PATHS = `${HEADER('PatientPaths')}
define "Birth date": Patient.birthDate
define "Birth date value": Patient.birthDate.value
define "Birth date as Date": FHIRHelpers.ToDate(Patient.birthDate)
define "Birth date extensions": Patient.birthDate.extension
define "Birth time": First(Patient.birthDate.extension E
  where E.url = 'http://hl7.org/fhir/StructureDefinition/patient-birthTime' return E.value)
define "Birth time as DateTime": FHIRHelpers.ToDateTime(First(Patient.birthDate.extension E
  where E.url = 'http://hl7.org/fhir/StructureDefinition/patient-birthTime' return E.value as FHIR.dateTime))
define "Birth time value": (First(Patient.birthDate.extension E return E.value) as FHIR.dateTime).value
define "Age in years": AgeInYears()
define "Gender": Patient.gender
define "Gender value": Patient.gender.value
define "Gender is female": Patient.gender = 'female'
define "Gender extension": Patient.gender.extension
define "Deceased": Patient.deceased
define "Deceased is boolean": Patient.deceased is FHIR.boolean
define "Deceased is dateTime": Patient.deceased is FHIR.dateTime
define "Deceased as boolean": (Patient.deceased as FHIR.boolean).value
define "Deceased as dateTime": Patient.deceased as FHIR.dateTime
define "Multiple birth": Patient.multipleBirth
define "Multiple birth integer": FHIRHelpers.ToInteger(Patient.multipleBirth as FHIR.integer)
define "Active": Patient.active
define "Active value": Patient.active.value
define "Active is true": Patient.active is true
define "Names": Patient.name
define "Given": Patient.name N return N.given
define "Given flat": flatten (Patient.name N return N.given)
define "Given values": flatten (Patient.name N return (N.given G return G.value))
define "Given values all": flatten (Patient.name N return all (N.given G return all G.value))
define "Given ids": flatten (Patient.name N return all (N.given G return all G.id))
define "Given extensions": flatten (Patient.name N return all (N.given G return all G.extension))
define "Given count": Count(flatten (Patient.name N return all N.given))
define "Given strings": flatten (Patient.name N return all (N.given G return all FHIRHelpers.ToString(G)))
define "Family": Patient.name N return N.family
define "Family values": Patient.name N return all N.family.value
define "Family extensions": Patient.name N return all N.family.extension
define "Name periods": Patient.name N return FHIRHelpers.ToInterval(N.period)
define "Name use": Patient.name N return N.use
define "Official name": First(Patient.name N where N.use = 'official')
define "Identifiers": Patient.identifier
define "Identifier values": Patient.identifier I return I.value.value
define "Identifier values all": Patient.identifier I return all I.value
define "MRNs": Patient.identifier I where I.system = 'urn:mrn' return I.value.value
define "Identifier types": Patient.identifier I return FHIRHelpers.ToConcept(I.type)
define "Identifier periods": Patient.identifier I return FHIRHelpers.ToInterval(I.period)
define "Identifier period ends": Patient.identifier I return I.period."end"
define "Identifiers equal": Patient.identifier[0] = Patient.identifier[1]
define "Identifiers equivalent": Patient.identifier[0] ~ Patient.identifier[1]
define "Identifier equals itself": Patient.identifier[1] = Patient.identifier[1]
define "Identifier values equal": Patient.identifier[0].value = Patient.identifier[1].value
define "Identifier systems equivalent": Patient.identifier[0].system ~ Patient.identifier[1].system
define "Distinct identifier systems": distinct (Patient.identifier I return all I.system.value)
define "Distinct identifiers": distinct (Patient.identifier I return all I)
define "Telecom": Patient.telecom
define "Telecom values": Patient.telecom T return all T.value
define "Telecom ranks": Patient.telecom T return all FHIRHelpers.ToInteger(T.rank)
define "Telecom rank values": Patient.telecom T return all T.rank.value
define "Telecom by rank desc": Patient.telecom T sort by rank.value desc
define "Extensions": Patient.extension
define "Extension urls": Patient.extension E return E.url
define "Birth sex": First(Patient.extension E
  where E.url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex' return E.value)
define "Birth sex code": FHIRHelpers.ToString(First(Patient.extension E
  where E.url = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex' return E.value as FHIR.code))
define "Race text": First(flatten (Patient.extension E where E.url.value.endsWith('us-core-race')
  return E.extension X where X.url = 'text' return X.value as FHIR.string)).value
define "Race category": FHIRHelpers.ToCode(First(flatten (Patient.extension E return E.extension X
  where X.url = 'ombCategory' return X.value as FHIR.Coding)))
define "Modifier extensions": Patient.modifierExtension
define "Modifier extension values": Patient.modifierExtension M return FHIRHelpers.ToBoolean(M.value as FHIR.boolean)
define "Contained": Patient.contained
define "Contained ids": Patient.contained C return C.id
define "Contained is Organization": Patient.contained C return C is FHIR.Organization
define "Contained as Organization names": Patient.contained C return (C as FHIR.Organization).name
define "Managing organization": Patient.managingOrganization
define "Managing organization reference": Patient.managingOrganization.reference.value
define "Address lines": flatten (Patient.address A return A.line)
define "Address line values": flatten (Patient.address A return all (A.line L return all L.value))
define "Address periods": Patient.address A return FHIRHelpers.ToInterval(A.period)
define "Communication": Patient.communication C return FHIRHelpers.ToConcept(C.language)
define "Communication text": Patient.communication C return C.language.text.value
define "Communication preferred": Patient.communication C return C.preferred.value
define "Meta": Patient.meta
define "Meta last updated": Patient.meta.lastUpdated.value
define "Meta profiles": Patient.meta.profile
define "Meta profile values": Patient.meta.profile P return P.value
define "Id": Patient.id
define "Patient exists": exists [Patient]
define "Patients": [Patient]
define "Patient equals retrieved": Patient = First([Patient])
define "Patient equivalent retrieved": Patient ~ First([Patient])
`;

const OBSERVATION_PATHS = `${HEADER('ObservationPaths')}
define "Observations": [Observation]
define "Values": [Observation] O return all O.value
define "Quantities": [Observation] O where O.value is FHIR.Quantity return O.value as FHIR.Quantity
define "Quantities as CQL": [Observation] O where O.value is FHIR.Quantity
  return all FHIRHelpers.ToQuantity(O.value as FHIR.Quantity)
define "Quantity parts": [Observation] O let Q: O.value as FHIR.Quantity where Q is not null
  return all Tuple { id: O.id, value: Q.value, v: Q.value.value, comparator: Q.comparator, c: Q.comparator.value,
    unit: Q.unit.value, system: Q.system.value, code: Q.code.value }
define "Quantity above 100": [Observation] O where (O.value as FHIR.Quantity) > 100 'mg/dL'
define "Quantity below 2": [Observation] O where FHIRHelpers.ToQuantity(O.value as FHIR.Quantity) < 2 'mg/dL'
define "Concepts": [Observation] O where O.value is FHIR.CodeableConcept
  return FHIRHelpers.ToConcept(O.value as FHIR.CodeableConcept)
define "Concept texts": [Observation] O return (O.value as FHIR.CodeableConcept).text
define "Strings": [Observation] O where O.value is FHIR.string return (O.value as FHIR.string).value
define "String elements": [Observation] O return all O.value as FHIR.string
define "String extensions": [Observation] O return all (O.value as FHIR.string).extension
define "Booleans": [Observation] O where O.value is FHIR.boolean return all FHIRHelpers.ToBoolean(O.value as FHIR.boolean)
define "Integers": [Observation] O where O.value is FHIR.integer return all FHIRHelpers.ToInteger(O.value as FHIR.integer)
define "Integer is zero": [Observation] O where (O.value as FHIR.integer) = 0 return O.id
define "Periods": [Observation] O where O.value is FHIR.Period return FHIRHelpers.ToInterval(O.value as FHIR.Period)
define "Period starts": [Observation] O return all (O.value as FHIR.Period).start
define "Ranges": [Observation] O where O.value is FHIR.Range return FHIRHelpers.ToInterval(O.value as FHIR.Range)
define "Range lows": [Observation] O return all (O.value as FHIR.Range).low.value.value
define "Ratios": [Observation] O where O.value is FHIR.Ratio return FHIRHelpers.ToRatio(O.value as FHIR.Ratio)
define "Times": [Observation] O where O.value is FHIR.time return FHIRHelpers.ToTime(O.value as FHIR.time)
define "Time values": [Observation] O return all (O.value as FHIR.time).value
define "Value dateTimes": [Observation] O where O.value is FHIR.dateTime
  return FHIRHelpers.ToDateTime(O.value as FHIR.dateTime)
define "Value is": [Observation] O return all Tuple { id: O.id, quantity: O.value is FHIR.Quantity,
  concept: O.value is FHIR.CodeableConcept, string: O.value is FHIR.string, bool: O.value is FHIR.boolean,
  int: O.value is FHIR.integer, period: O.value is FHIR.Period, range: O.value is FHIR.Range,
  ratio: O.value is FHIR.Ratio, time: O.value is FHIR.time, dt: O.value is FHIR.dateTime, none: O.value is null }
define "Effective": [Observation] O return all O.effective
define "Effective dateTimes": [Observation] O return all FHIRHelpers.ToDateTime(O.effective as FHIR.dateTime)
define "Effective dateTime values": [Observation] O return all (O.effective as FHIR.dateTime).value
define "Effective dateTime extensions": [Observation] O return all (O.effective as FHIR.dateTime).extension
define "Effective periods": [Observation] O return all FHIRHelpers.ToInterval(O.effective as FHIR.Period)
define "Effective instants": [Observation] O return all FHIRHelpers.ToDateTime(O.effective as FHIR.instant)
define "Effective fields": [Observation] O let T: (O.effective as FHIR.dateTime).value
  return all Tuple { y: year from T, mo: month from T, d: day from T, h: hour from T, ms: millisecond from T }
define "Effective timezone": [Observation] O return all timezoneoffset from (O.effective as FHIR.dateTime).value
define "Effective after 2023": [Observation] O where (O.effective as FHIR.dateTime) after @2023-06-01 return O.id
define "Effective in 2024": [Observation] O
  where FHIRHelpers.ToDateTime(O.effective as FHIR.dateTime) during Interval[@2024-01-01T00:00:00Z, @2025-01-01T00:00:00Z)
  return O.id
define "Effective same year": [Observation] O
  where (O.effective as FHIR.dateTime).value same year as @2023 return O.id
define "Issued": [Observation] O return all O.issued
define "Issued values": [Observation] O return all O.issued.value
define "Issued equal": First([Observation] O where O.id = 'o-qty').issued = First([Observation] O where O.id = 'o-qty-2').issued
define "Issued values equal": First([Observation] O where O.id = 'o-qty').issued.value
  = First([Observation] O where O.id = 'o-qty-2').issued.value
define "Status": [Observation] O return all O.status
define "Status values": [Observation] O return all O.status.value
define "Final": [Observation] O where O.status = 'final' return O.id
define "Final or amended": [Observation] O where O.status in { 'final', 'amended' } return O.id
define "Status equivalent": [Observation] O where O.status ~ 'FINAL' return O.id
define "Codes": [Observation] O return all O.code
define "Code concepts": [Observation] O return all FHIRHelpers.ToConcept(O.code)
define "Codings": flatten ([Observation] O return all O.code.coding)
define "Coding codes": flatten ([Observation] O return all (O.code.coding C return all FHIRHelpers.ToCode(C)))
define "Coding versions": flatten ([Observation] O return all (O.code.coding C return all C.version.value))
define "Coding displays": flatten ([Observation] O return all (O.code.coding C return all C.display))
define "Glucose by code": [Observation: "Glucose"] O return O.id
define "In small value set": [Observation: "Small"] O return O.id
define "Code in small value set": [Observation] O where O.code in "Small" return O.id
define "Code equivalent to Glucose": [Observation] O where O.code ~ "Glucose" return O.id
define "Code equals Glucose concept": [Observation] O where FHIRHelpers.ToConcept(O.code) = ToConcept("Glucose") return O.id
define "Codings equal": First([Observation] O where O.id = 'o-qty').code.coding[0]
  = First([Observation] O where O.id = 'o-qty-2').code.coding[0]
define "Codings equivalent": First([Observation] O where O.id = 'o-qty').code.coding[0]
  ~ First([Observation] O where O.id = 'o-qty-2').code.coding[0]
define "Codes equal as CQL": FHIRHelpers.ToCode(First([Observation] O where O.id = 'o-qty').code.coding[0])
  = FHIRHelpers.ToCode(First([Observation] O where O.id = 'o-qty-2').code.coding[0])
define "Codes equivalent as CQL": FHIRHelpers.ToCode(First([Observation] O where O.id = 'o-qty').code.coding[0])
  ~ FHIRHelpers.ToCode(First([Observation] O where O.id = 'o-qty-2').code.coding[0])
define "Categories": flatten ([Observation] O return all O.category)
define "Components": flatten ([Observation] O return all O.component)
define "Component values": flatten ([Observation] O return all (O.component C return all C.value))
define "Component quantities": flatten ([Observation] O return all (O.component C
  return all FHIRHelpers.ToQuantity(C.value as FHIR.Quantity)))
define "Component absent": flatten ([Observation] O return all (O.component C return all C.dataAbsentReason))
define "Systolic": First(flatten ([Observation] O return (O.component C where C.code ~ Code '8480-6' from "LOINC"
  return C.value as FHIR.Quantity)))
define "Reference ranges": flatten ([Observation] O return all (O.referenceRange R
  return all Interval[FHIRHelpers.ToQuantity(R.low), FHIRHelpers.ToQuantity(R.high)]))
define "Has members": flatten ([Observation] O return all O.hasMember)
define "Notes": flatten ([Observation] O return all O.note)
define "Note times": flatten ([Observation] O return all (O.note N return all N.time.value))
define "Data absent": [Observation] O where O.dataAbsentReason is not null return O.id
define "Count": Count([Observation])
define "Count with value": Count([Observation] O where O.value is not null)
define "Any final": exists ([Observation] O where O.status = 'final')
define "First by id": First([Observation] O sort by id)
define "Last by id": Last([Observation] O sort by id)
define "Sorted by issued": [Observation] O where O.issued is not null sort by issued
define "Sorted by issued value": [Observation] O sort by issued.value
define "Sorted by effective": [Observation] O sort by FHIRHelpers.ToDateTime(effective as FHIR.dateTime)
define "Sorted by effective desc": [Observation] O sort by FHIRHelpers.ToDateTime(effective as FHIR.dateTime) desc, id
define "Sorted by status": [Observation] O sort by status
define "Sorted by status value": [Observation] O sort by status.value, id desc
define "Sorted by effective values": [Observation] O sort by (effective as FHIR.dateTime).value
define "Sorted by issued values desc": [Observation] O sort by issued.value desc
define "Effective values sorted": ([Observation] O return all FHIRHelpers.ToDateTime(O.effective as FHIR.dateTime)) T
  where T is not null sort asc
define "Sorted by value": [Observation] O where O.value is FHIR.Quantity sort by FHIRHelpers.ToQuantity(value as FHIR.Quantity)
define "Latest glucose": Last([Observation: "Glucose"] O sort by FHIRHelpers.ToDateTime(effective as FHIR.dateTime))
define "Distinct codes": distinct flatten ([Observation] O return all O.code.coding)
define "Distinct code concepts": distinct ([Observation] O return all FHIRHelpers.ToConcept(O.code))
define "Distinct statuses": distinct ([Observation] O return all O.status)
define "Distinct status values": distinct ([Observation] O return all O.status.value)
define "Distinct effective": distinct ([Observation] O return all O.effective)
define "Distinct effective dateTimes": distinct ([Observation] O return all FHIRHelpers.ToDateTime(O.effective as FHIR.dateTime))
define "Distinct issued": distinct ([Observation] O return all O.issued)
define "Distinct subjects": [Observation] O return O.subject
define "Distinct values": [Observation] O return O.value
define "Distinct quantities": [Observation] O return FHIRHelpers.ToQuantity(O.value as FHIR.Quantity)
define "Union": [Observation: "Glucose"] union [Observation: "Small"]
define "Intersect": [Observation: "Glucose"] intersect [Observation] O where O.status = 'final'
define "Except": [Observation] except [Observation: "Glucose"]
define "Codes union": ([Observation] O return all O.code) union ([Observation] O return all O.code)
define "Observation in list": First([Observation] O where O.id = 'o-qty') in [Observation]
define "Observation equals": First([Observation] O where O.id = 'o-qty') = First([Observation] O where O.id = 'o-qty')
define "Observations differ": First([Observation] O where O.id = 'o-qty') = First([Observation] O where O.id = 'o-cc')
define "Values equal": (First([Observation] O where O.id = 'o-qty').value as FHIR.Quantity)
  = (First([Observation] O where O.id = 'o-qty-2').value as FHIR.Quantity)
define "Values equivalent": (First([Observation] O where O.id = 'o-qty').value as FHIR.Quantity)
  ~ (First([Observation] O where O.id = 'o-qty').value as FHIR.Quantity)
`;

const OTHER_PATHS = `${HEADER('OtherPaths')}
define "Conditions": [Condition]
define "Onsets": [Condition] C return all C.onset
define "Onset dateTimes": [Condition] C return all FHIRHelpers.ToDateTime(C.onset as FHIR.dateTime)
define "Onset ages": [Condition] C return all FHIRHelpers.ToQuantity(C.onset as FHIR.Age)
define "Onset periods": [Condition] C return all FHIRHelpers.ToInterval(C.onset as FHIR.Period)
define "Onset ranges": [Condition] C return all FHIRHelpers.ToInterval(C.onset as FHIR.Range)
define "Onset strings": [Condition] C return all (C.onset as FHIR.string).value
define "Onset is": [Condition] C return all Tuple { id: C.id, dt: C.onset is FHIR.dateTime, age: C.onset is FHIR.Age,
  q: C.onset is FHIR.Quantity, period: C.onset is FHIR.Period, range: C.onset is FHIR.Range, s: C.onset is FHIR.string }
define "Abatements": [Condition] C return all C.abatement
define "Abatement dateTimes": [Condition] C return all FHIRHelpers.ToDateTime(C.abatement as FHIR.dateTime)
define "Abatement ages": [Condition] C return all FHIRHelpers.ToQuantity(C.abatement as FHIR.Age)
define "Abatement periods": [Condition] C return all FHIRHelpers.ToInterval(C.abatement as FHIR.Period)
define "Abatement strings": [Condition] C return all (C.abatement as FHIR.string).value
define "Active conditions": [Condition] C where FHIRHelpers.ToConcept(C.clinicalStatus) ~ Code 'active'
  from "SNOMED" return C.id
define "Clinical status codes": [Condition] C return all C.clinicalStatus.coding[0].code.value
define "Diabetes conditions": [Condition: "Diabetes"] C return C.id
define "Diabetes by concept": [Condition: "Diabetes concept"] C return C.id
define "Diabetes concept equivalent": [Condition] C where C.code ~ "Diabetes concept" return C.id
define "Small conditions": [Condition: "Small"] C return C.id
define "Conditions code in": [Condition] C where C.code in "Small" return C.id
define "Recorded": [Condition] C return all C.recordedDate.value
define "Condition codes": [Condition] C return all FHIRHelpers.ToConcept(C.code)
define "Condition coding counts": [Condition] C return all Count(C.code.coding)
define "Medication requests": [MedicationRequest]
define "Medications": [MedicationRequest] M return all M.medication
define "Medication concepts": [MedicationRequest] M return all FHIRHelpers.ToConcept(M.medication as FHIR.CodeableConcept)
define "Medication references": [MedicationRequest] M return all (M.medication as FHIR.Reference).reference.value
define "Medication is": [MedicationRequest] M return all Tuple { id: M.id, cc: M.medication is FHIR.CodeableConcept,
  ref: M.medication is FHIR.Reference }
define "Medications in small": [MedicationRequest: "Small"] M return M.id
define "Medications code in": [MedicationRequest] M where M.medication in "Small" return M.id
define "Contained medications": flatten ([MedicationRequest] M return all (M.contained C return all C))
define "Contained medication codes": flatten ([MedicationRequest] M return all (M.contained C
  where C is FHIR.Medication return FHIRHelpers.ToConcept((C as FHIR.Medication).code)))
define "Referenced contained": [MedicationRequest] M let R: (M.medication as FHIR.Reference).reference.value
  return all First(M.contained C where '#' + C.id = R)
define "Authored": [MedicationRequest] M return all M.authoredOn.value
define "Authored months": [MedicationRequest] M return all month from M.authoredOn.value
define "Statuses": [MedicationRequest] M return all M.status.value
define "Active requests": [MedicationRequest] M where M.status = 'active' and M.intent = 'order' return M.id
define "Dose quantities": flatten ([MedicationRequest] M return all flatten (M.dosageInstruction D
  return all (D.doseAndRate R return all FHIRHelpers.ToQuantity(R.dose as FHIR.SimpleQuantity))))
define "Dose ranges": flatten ([MedicationRequest] M return all flatten (M.dosageInstruction D
  return all (D.doseAndRate R return all FHIRHelpers.ToInterval(R.dose as FHIR.Range))))
define "Timing": flatten ([MedicationRequest] M return all (M.dosageInstruction D return all D.timing.repeat))
define "Frequency": flatten ([MedicationRequest] M return all (M.dosageInstruction D return all Tuple {
  frequency: D.timing.repeat.frequency.value, period: D.timing.repeat.period.value,
  unit: D.timing.repeat.periodUnit.value, bounds: FHIRHelpers.ToInterval(D.timing.repeat.bounds as FHIR.Period),
  asNeeded: (D.asNeeded as FHIR.boolean).value, sequence: D.sequence.value }))
define "Repeats allowed": [MedicationRequest] M return all M.dispenseRequest.numberOfRepeatsAllowed.value
define "Repeats allowed elements": [MedicationRequest] M return all M.dispenseRequest.numberOfRepeatsAllowed
define "Supply duration": [MedicationRequest] M return all FHIRHelpers.ToQuantity(M.dispenseRequest.expectedSupplyDuration)
define "Dispense quantity": [MedicationRequest] M return all FHIRHelpers.ToQuantity(M.dispenseRequest.quantity)
define "Draft list": "Drafts"
define "Draft medications": "Drafts" D return all D.medication
define "Draft concepts": "Drafts" D return all FHIRHelpers.ToConcept(D.medication as FHIR.CodeableConcept)
define "Draft in small": "Drafts" D where D.medication in "Small" return D.id
define "Drafts distinct": distinct ("Drafts" D return all D.medication)
define "Draft equals retrieved": exists ("Drafts" D where D in [MedicationRequest])
define "Encounters": [Encounter]
define "Distinct encounter periods": distinct ([Encounter] E return all E.period)
define "Encounter periods deduplicated": [Encounter] E return E.period
define "Distinct period starts": distinct ([Encounter] E return all E.period.start)
define "Encounter periods": [Encounter] E return all FHIRHelpers.ToInterval(E.period)
define "Encounter period ends": [Encounter] E return all end of FHIRHelpers.ToInterval(E.period)
define "Encounter period starts": [Encounter] E return all start of E.period
define "Encounter lengths": [Encounter] E return all FHIRHelpers.ToQuantity(E.length)
define "Encounter durations": [Encounter] E return all duration in minutes of FHIRHelpers.ToInterval(E.period)
define "Encounter classes": [Encounter] E return all FHIRHelpers.ToCode(E.class)
define "Encounter types": flatten ([Encounter] E return all E.type)
define "Encounter diagnosis ranks": flatten ([Encounter] E return all (E.diagnosis D return all D.rank.value))
define "Ambulatory": [Encounter] E where E.class ~ Code 'AMB' from "SNOMED" return E.id
define "Ambulatory code": [Encounter] E where E.class.code = 'AMB' return E.id
define "Finished": [Encounter] E where E.status = 'finished' return E.id
define "Encounters in 2024": [Encounter] E where FHIRHelpers.ToInterval(E.period) during Interval[@2024-01-01, @2025-01-01)
  return E.id
define "Encounters overlap": [Encounter] E where FHIRHelpers.ToInterval(E.period) overlaps Interval[@2024-01-15T00:00:00Z, @2024-03-01T00:00:00Z]
  return E.id
define "Procedures": [Procedure] P return all P.performed
define "Procedure dates": [Procedure] P return all FHIRHelpers.ToDateTime(P.performed as FHIR.dateTime)
define "Procedure periods": [Procedure] P return all FHIRHelpers.ToInterval(P.performed as FHIR.Period)
define "Procedure strings": [Procedure] P return all (P.performed as FHIR.string).value
define "Procedures done": [Procedure] P where P.status != 'not-done' return P.id
define "Allergies": [AllergyIntolerance]
define "Allergy categories": flatten ([AllergyIntolerance] A return all A.category)
define "Allergy category values": flatten ([AllergyIntolerance] A return all (A.category C return all C.value))
define "Allergy category extensions": flatten ([AllergyIntolerance] A return all (A.category C return all C.extension))
define "Medication allergy": [AllergyIntolerance] A where 'medication' in (A.category C return C.value) return A.id
define "Allergy criticality": [AllergyIntolerance] A return all A.criticality.value
define "Allergy type": [AllergyIntolerance] A return all A.type
define "Allergy onset": [AllergyIntolerance] A return all FHIRHelpers.ToDateTime(A.onset as FHIR.dateTime)
define "Reactions": flatten ([AllergyIntolerance] A return all (A.reaction R return all Tuple {
  severity: R.severity.value, manifestation: R.manifestation M return FHIRHelpers.ToConcept(M) }))
define "Immunizations": [Immunization]
define "Immunization occurrence": [Immunization] I return all I.occurrence
define "Immunization dates": [Immunization] I return all FHIRHelpers.ToDateTime(I.occurrence as FHIR.dateTime)
define "Immunization strings": [Immunization] I return all (I.occurrence as FHIR.string).value
define "Immunization doses": flatten ([Immunization] I return all (I.protocolApplied P return all P.doseNumber))
define "Immunization dose numbers": flatten ([Immunization] I return all (I.protocolApplied P
  return all FHIRHelpers.ToInteger(P.doseNumber as FHIR.positiveInt)))
define "Immunization series": flatten ([Immunization] I return all (I.protocolApplied P
  return all (P.seriesDoses as FHIR.positiveInt).value))
define "Immunizations by expiration": [Immunization] I sort by expirationDate.value
define "Immunizations by expiration desc": [Immunization] I sort by FHIRHelpers.ToDate(expirationDate) desc
define "Immunization quantity": [Immunization] I return all FHIRHelpers.ToQuantity(I.doseQuantity)
define "Primary source": [Immunization] I return all I.primarySource.value
define "Vaccines in small": [Immunization: "Small"] I return I.id
define "Completed immunizations": [Immunization] I where I.status = 'completed' return I.id
define "Service requests": [ServiceRequest]
define "Service request occurrence": [ServiceRequest] S return all FHIRHelpers.ToDateTime(S.occurrence as FHIR.dateTime)
define "Service request authored": [ServiceRequest] S return all S.authoredOn.value
define "Service request priority": [ServiceRequest] S return all S.priority
define "Service request quantity": [ServiceRequest] S return all FHIRHelpers.ToQuantity(S.quantity as FHIR.Quantity)
define "Urgent": [ServiceRequest] S where S.priority = 'urgent' return S.id
define "Reports": [DiagnosticReport]
define "Report effective": [DiagnosticReport] R return all FHIRHelpers.ToInterval(R.effective as FHIR.Period)
define "Report effective start": [DiagnosticReport] R return all start of FHIRHelpers.ToInterval(R.effective as FHIR.Period)
define "Report effective end": [DiagnosticReport] R return all end of FHIRHelpers.ToInterval(R.effective as FHIR.Period)
define "Report issued": [DiagnosticReport] R return all R.issued.value
define "Report results": flatten ([DiagnosticReport] R return all R.result)
define "Report result references": flatten ([DiagnosticReport] R return all (R.result X return all X.reference.value))
define "Report conclusions": flatten ([DiagnosticReport] R return all (R.conclusionCode C return all FHIRHelpers.ToConcept(C)))
define "Report results observations": [DiagnosticReport] R
  return all ([Observation] O where exists (R.result X where X.reference.value = 'Observation/' + O.id) return O.id)
`;

// EnableDateRangeOptimization: the translator moves date comparisons into the retrieve (dateProperty, dateRange).
const DATE_RANGES = `${HEADER('DateRanges')}
define "Observations in 2024": [Observation] O where O.effective during Interval[@2024-01-01T00:00:00Z, @2025-01-01T00:00:00Z)
define "Glucose in 2024": [Observation: "Glucose"] O where O.effective during Interval[@2024-01-01T00:00:00Z, @2025-01-01T00:00:00Z)
define "Encounters in 2024": [Encounter] E where E.period during Interval[@2024-01-01T00:00:00Z, @2025-01-01T00:00:00Z)
define "Procedures 2023 on": [Procedure] P where P.performed during Interval[@2023-01-01T00:00:00Z, @2030-01-01T00:00:00Z)
define "Requests authored 2024": [MedicationRequest] M where M.authoredOn during Interval[@2024-01-01T00:00:00Z, @2025-01-01T00:00:00Z)
define "Conditions onset": [Condition] C where C.onset during Interval[@2019-01-01T00:00:00Z, @2021-01-01T00:00:00Z)
`;

// Where the engine is deliberately not stock: cql-exec-fhir reads a contained resource as FHIR.Resource, whose
// key for distinct results has its id, meta, implicitRules and language only, so two different Medications under
// the same local id (`#med1` in two requests) are one to stock distinct. The engine keys them by their JSON.
const KNOWN_DIFFERENCES = `${HEADER('KnownDifferences')}
define "Distinct contained": distinct ([MedicationRequest] M return all M.contained)
`;

const DRAFTS: FhirResource[] = [
  MEDICATION_REQUESTS[0],
  { ...MEDICATION_REQUESTS[0], id: 'draft-2' },
  MEDICATION_REQUESTS[1],
  { resourceType: 'MedicationRequest', id: 'draft-empty', status: 'draft', intent: 'proposal', subject },
];

const LIBRARIES: Array<[string, string, boolean]> = [
  ['PatientPaths', PATIENT_PATHS, false],
  ['ObservationPaths', OBSERVATION_PATHS, false],
  ['OtherPaths', OTHER_PATHS, false],
  ['DateRanges', DATE_RANGES, true],
];

const libraries = new Map<string, LibraryType>();
beforeAll(async () => {
  for (const [name, text, dateRanges] of LIBRARIES) {
    const options = dateRanges
      ? {
          ...DEFAULT_TRANSLATOR_OPTIONS,
          options: [...DEFAULT_TRANSLATOR_OPTIONS.options, 'EnableDateRangeOptimization' as const],
        }
      : DEFAULT_TRANSLATOR_OPTIONS;
    libraries.set(name, await compiledWithFhirHelpers(name, text, options));
  }
}, 120_000);

/** The defines whose values differ between stock cql-exec-fhir and the engine, with both values. */
async function differences(name: string, resources: FhirResource[]) {
  const { stock, ours } = await stockAndEngine(libraries.get(name)!, resources, {
    valueSets: VALUE_SETS,
    parameters: (wrap) => ({ Drafts: DRAFTS.map(wrap) }),
  });
  expect(Object.keys(ours).sort()).toEqual(Object.keys(stock).sort());
  const differ: Array<{ define: string; stock: unknown; ours: unknown }> = [];
  for (const define of Object.keys(stock)) {
    const s = canonical(stock[define]);
    const o = canonical(ours[define]);
    try {
      expect(o).toEqual(s);
    } catch {
      differ.push({ define, stock: s, ours: o });
    }
  }
  return { differ, count: Object.keys(stock).length };
}

describe('FHIR paths the shipped libraries never read', () => {
  it.each(LIBRARIES.map(([name]) => name))(
    'give the same value of every define of %s as cql-exec-fhir',
    async (name) => {
      const { differ, count } = await differences(name, RESOURCES);
      expect(count).toBeGreaterThan(5);
      expect(differ).toEqual([]);
    },
  );

  it.each(LIBRARIES.map(([name]) => name))(
    'give the same value of every define of %s as cql-exec-fhir over a sparse record',
    async (name) => {
      const { differ } = await differences(name, SPARSE);
      expect(differ).toEqual([]);
    },
  );

  it('keep apart two contained resources of the same id that stock distinct takes as one', async () => {
    const library = await compiledWithFhirHelpers('KnownDifferences', KNOWN_DIFFERENCES);
    const { stock, ours } = await stockAndEngine(library, RESOURCES, { valueSets: VALUE_SETS });
    const ids = (lists: unknown) =>
      (lists as Array<unknown[] | null>).map((list) =>
        list == null
          ? null
          : list.map((c) => (c as { _json: { code: { coding: Array<{ code: string }> } } })._json.code.coding[0].code),
      );
    expect(ids(stock['Distinct contained'])).toEqual([null, ['1049502']]);
    expect(ids(ours['Distinct contained'])).toEqual([null, ['1049502'], ['197806']]);
  }, 60_000);

  it('include retrieves with a date range', () => {
    const elm = JSON.stringify((libraries.get('DateRanges') as unknown as { source: unknown }).source);
    expect(elm).toContain('"dateRange"');
    expect(elm).toContain('"dateProperty"');
  });
});

const stockWrapper = (
  require('cql-exec-fhir') as { FHIRWrapper: { FHIRv401(): { wrap(r: unknown): FhirObject } } }
).FHIRWrapper.FHIRv401();
const comparison = require('cql-execution/lib/util/comparison') as {
  equals: (a: unknown, b: unknown) => boolean | null;
  equivalent: (a: unknown, b: unknown) => boolean | null;
};

interface FhirObject {
  get(path: string): unknown;
  getCode(path: string): unknown;
  getDateOrInterval(path: string): unknown;
}

/** The paths ELM may name on a resource: each JSON name (explicit choices and `_` names too) and one level deeper. */
function pathsOf(json: Record<string, unknown>): string[] {
  const paths = new Set<string>();
  for (const [key, value] of Object.entries(json)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    paths.add(name);
    const first = Array.isArray(value) ? (value as unknown[]).find((v) => v != null) : value;
    if (first && typeof first === 'object' && !Array.isArray(value))
      for (const sub of Object.keys(first)) paths.add(`${name}.${sub.startsWith('_') ? sub.slice(1) : sub}`);
  }
  return [...paths];
}

describe('FHIR objects read directly', () => {
  const errors = console.error;
  it('give what cql-exec-fhir gives for every path of every resource', () => {
    const model = fhirDataModel();
    const differ: unknown[] = [];
    console.error = () => undefined; // both sides say so for names the model does not have
    try {
      for (const resource of [...RESOURCES, ...SPARSE, ...DRAFTS]) {
        const stock = stockWrapper.wrap(resource);
        const ours = model.wrap(resource) as FhirObject;
        for (const path of pathsOf(resource)) {
          const read = (o: FhirObject) => ({
            get: canonical(o.get(path)),
            code: canonical(o.getCode(path)),
            date: canonical(o.getDateOrInterval(path)),
          });
          let s: unknown, o: unknown;
          try {
            s = read(stock);
          } catch (e) {
            s = { threw: String(e) };
          }
          try {
            o = read(ours);
          } catch (e) {
            o = { threw: String(e) };
          }
          if (JSON.stringify(s) !== JSON.stringify(o)) differ.push({ id: resource.id, path, stock: s, ours: o });
        }
      }
    } finally {
      console.error = errors;
    }
    expect(differ).toEqual([]);
  });

  it('compare as cql-exec-fhir objects do: equal and equivalent, pair by pair', () => {
    const model = fhirDataModel();
    const paths = ['code', 'value', 'effective', 'onset', 'identifier', 'name', 'period', 'status', 'medication'];
    const pick = (wrap: (r: FhirResource) => unknown) => {
      const objects: unknown[] = [];
      for (const resource of RESOURCES) {
        const o = wrap(resource) as FhirObject;
        objects.push(o);
        for (const path of paths)
          if (Object.keys(resource).some((k) => k === path || (k.startsWith(path) && /[A-Z]/.test(k[path.length]))))
            objects.push(o.get(path));
      }
      return objects.filter((x) => x != null);
    };
    const typeOf = (x: unknown) =>
      Array.isArray(x) ? 'list' : (x as { _typeInfo?: { name?: string } })._typeInfo?.name;
    const stock = pick((r) => stockWrapper.wrap(r));
    const ours = pick(model.wrap);
    expect(ours.length).toBe(stock.length);
    const differ: unknown[] = [];
    for (let i = 0; i < stock.length; i++)
      for (let j = i; j < stock.length; j++)
        for (const op of ['equals', 'equivalent'] as const) {
          // Objects of two types differ on both sides at the first key.
          if (typeOf(stock[i]) !== typeOf(stock[j]) && (i + j) % 7 !== 0) continue;
          const s = comparison[op](stock[i], stock[j]);
          const o = comparison[op](ours[i], ours[j]);
          if (s !== o) differ.push({ op, a: canonical(stock[i]), b: canonical(stock[j]), stock: s, ours: o });
        }
    expect(differ).toEqual([]);
  });
});
