// Medications that draft orders and records reference but the call did not carry: read as
// Medication/{id} from the call's FHIR server, when it gives one this server may use.
import { isResource, type FhirResource } from '../fhir/index.js';
import type { HookRequest } from '../hooks/index.js';
import { fetchFhir } from './fhir-client.js';
import { isAllowedServer, type PrefetchOptions } from './resolve-prefetch.js';

/** Most Medications read for one call: a record with more distinct references keeps the rest unresolved. */
export const MAX_MEDICATION_READS = 50;

/**
 * Reads the Medications named by `ids` (at most MAX_MEDICATION_READS, in parallel). One that cannot be read
 * is left out: its order is then evaluated as before, and `failed` counts it for the trace.
 */
export async function fetchMedications(
  ids: string[],
  request: HookRequest,
  options: PrefetchOptions,
): Promise<{ medications: FhirResource[]; failed: number }> {
  if (ids.length === 0 || !request.fhirServer || !isAllowedServer(request.fhirServer, options.allowedFhirServers))
    return { medications: [], failed: 0 };
  const fhir = {
    fhirServer: request.fhirServer,
    accessToken: request.fhirAuthorization?.access_token,
    timeoutMs: options.timeoutMs,
    maxPages: 1,
    fetchImpl: options.fetchImpl,
  };
  const wanted = ids.slice(0, MAX_MEDICATION_READS);
  const read = await Promise.all(
    wanted.map(async (id) => {
      try {
        const value = await fetchFhir(`Medication/${encodeURIComponent(id)}`, fhir);
        return isResource(value) && value.resourceType === 'Medication' ? value : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  const medications = read.filter((r): r is FhirResource => r !== undefined);
  return { medications, failed: ids.length - medications.length };
}
