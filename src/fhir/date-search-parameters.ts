// The FHIR R4 date search parameters of the resource types clinical CQL reads, by the element each searches
// (from the R4 search parameter registry, https://hl7.org/fhir/R4/searchparameter-registry.html): a choice
// element is named without its type (`effective` for effective[x]). Derived prefetch turns a CQL date bound on
// one of these elements into the parameter; the local search evaluates it.

export const DATE_SEARCH_PARAMETERS: Record<string, Record<string, string>> = {
  AllergyIntolerance: { recordedDate: 'date' },
  CarePlan: { period: 'date' },
  Condition: { onset: 'onset-date', recordedDate: 'recorded-date', abatement: 'abatement-date' },
  DiagnosticReport: { effective: 'date', issued: 'issued' },
  Encounter: { period: 'date' },
  ImagingStudy: { started: 'started' },
  Immunization: { occurrence: 'date' },
  MedicationAdministration: { effective: 'effective-time' },
  MedicationDispense: { whenHandedOver: 'whenhandedover' },
  MedicationRequest: { authoredOn: 'authoredon' },
  MedicationStatement: { effective: 'effective' },
  Observation: { effective: 'date' },
  Procedure: { performed: 'date' },
  ServiceRequest: { authoredOn: 'authored' },
};

/** The elements a date search parameter of `type` searches (choice elements by their base name). */
export function dateSearchElements(type: string, parameter: string): string[] {
  return Object.entries(DATE_SEARCH_PARAMETERS[type] ?? {})
    .filter(([, p]) => p === parameter)
    .map(([element]) => element);
}
