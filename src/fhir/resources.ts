// FHIR resources as plain JSON: what every part of the product needs to tell one from other JSON.

export interface FhirResource {
  resourceType: string;
  id?: string;
  [key: string]: unknown;
}

/** An object with a string `resourceType`: a FHIR resource as far as the JSON says. */
export function isResource(value: unknown): value is FhirResource {
  return (
    !!value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    typeof (value as FhirResource).resourceType === 'string'
  );
}

/** The resources of a Bundle's entries (none for anything that is not a Bundle). */
export function resourcesOf(bundle: unknown): FhirResource[] {
  if (!isResource(bundle) || bundle.resourceType !== 'Bundle') return [];
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as Array<{ resource?: unknown }>) : [];
  const out: FhirResource[] = [];
  for (const e of entries) if (isResource(e?.resource)) out.push(e.resource);
  return out;
}
