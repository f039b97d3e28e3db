// The calls bench/cpu.ts measures: for each shipped service, its first example case over a generated
// record of a given size, with the whole record sent in the first searchset key (as an EHR that
// sends everything it has, or a server that ignored the search's filters), the other keys as the
// service's prefetch templates fill them.
import { buildHookRequest, FIXTURE_CASES, generateLargePatient, resolveDerivedPrefetch } from '../fixtures/generate.js';

export interface CpuCall {
  service: string;
  size: number;
  body: Record<string, unknown>;
}

export async function cpuCalls(sizes: number[]): Promise<CpuCall[]> {
  await resolveDerivedPrefetch();
  const out: CpuCall[] = [];
  const services = [...new Set(FIXTURE_CASES.map((c) => c.service))];
  for (const service of services) {
    const c = FIXTURE_CASES.find((x) => x.service === service)!;
    for (const size of sizes) {
      const patient = generateLargePatient(7, size, c.scenario);
      const request = buildHookRequest(c, patient);
      const key = Object.keys(request.prefetch).find(
        (k) => (request.prefetch[k] as { resourceType?: string } | null)?.resourceType === 'Bundle',
      );
      if (!key) throw new Error(`${service}: no searchset key to send the whole record in`);
      request.prefetch[key] = {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: patient.entry.map((e) => ({ resource: e.resource })),
      };
      out.push({ service, size, body: request as unknown as Record<string, unknown> });
    }
  }
  return out;
}
