// Medications that draft orders and records reference but the call did not carry: read as
// Medication/{id} from the call's FHIR server, when it gives one this server may use.
import { fhirShapeIssues, isResource, type FhirResource } from '../fhir/index.js';
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
    // Bounded like every other FHIR request of the call: answer size, the call's deadline, its resource budget.
    maxBytes: options.maxBytes,
    ...(options.deadlineMs !== undefined
      ? { deadline: AbortSignal.timeout(options.deadlineMs), deadlineMs: options.deadlineMs }
      : {}),
    ...(options.maxResources !== undefined ? { resources: { limit: options.maxResources, used: 0 } } : {}),
  };
  const wanted = ids.slice(0, MAX_MEDICATION_READS);
  const read = await Promise.all(
    wanted.map(async (id) => {
      try {
        const value = await fetchFhir(`Medication/${encodeURIComponent(id)}`, fhir);
        if (!isResource(value) || value.resourceType !== 'Medication') return undefined;
        // A number or date CQL cannot compute with would fail the evaluation: such a Medication is not used.
        return fhirShapeIssues(value, 'Medication', { rangeOnly: true }).length === 0 ? value : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  const medications = read.filter((r): r is FhirResource => r !== undefined);
  return { medications, failed: ids.length - medications.length };
}
