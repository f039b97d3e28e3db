// Prefetch that an EHR (or the FHIR server) only partly honoured: a searchset that announces more matches
// (`total`) than it holds and gives no next link is fetched in full when the server can, and otherwise
// evaluated as it is and reported per key; one that holds more than asked is used as it is.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { HookRequest } from '../../src/hooks/types.js';
import { askedCount, resolvePrefetch, shortfallOf, type PrefetchOptions } from '../../src/prefetch/index.js';
import { entryIds, fakeFhir, fhirJson, status, type FakeFhir } from './fake-fhir.js';

const base = 'https://fhir.short.example/r4';

function observations(prefix: string, n: number): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => ({ resourceType: 'Observation', id: `${prefix}-${i}` }));
}

/** A searchset of `resources` that says it is `total` matches long. */
function searchset(resources: Array<Record<string, unknown>>, total: number): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    entry: resources.map((resource) => ({ resource, search: { mode: 'match' } })),
  };
}

function call(patientId: string, extra: Partial<HookRequest> = {}): HookRequest {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/dr-short', patientId },
    ...extra,
  };
}

function options(fhir: FakeFhir, more: Partial<PrefetchOptions> = {}): PrefetchOptions {
  return { timeoutMs: 2_000, maxPages: 5, fetchImpl: fhir.fetchImpl, ...more };
}

const all = { labs: 'Observation?patient={{context.patientId}}' };
const latest10 = { labs: 'Observation?patient={{context.patientId}}&_sort=-date&_count=10' };

describe('a prefetch search holding fewer matches than it announces', () => {
  it('is fetched again from fhirServer, and the whole search is evaluated', async () => {
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-s1`]: fhirJson(searchset(observations('full', 3), 3)),
    });
    const sent = searchset(observations('part', 1), 3);
    const result = await resolvePrefetch(
      all,
      call('pt-s1', { fhirServer: base, prefetch: { labs: sent } }),
      options(fhir),
    );
    expect(fhir.urls()).toEqual([`${base}/Observation?patient=pt-s1`]);
    expect(entryIds(result.data.labs)).toEqual(['full-0', 'full-1', 'full-2']);
    expect(result.status.labs).toBe('fetched');
    expect(result.shortfalls).toEqual([
      { key: 'labs', from: 'ehr', asked: 'all', got: 1, total: 3, resolution: 'fetched-in-full' },
    ]);
  });

  it('is evaluated as sent and reported when the request has no fhirServer', async () => {
    const fhir = fakeFhir({});
    const sent = searchset(observations('alone', 2), 7);
    const result = await resolvePrefetch(all, call('pt-s2', { prefetch: { labs: sent } }), options(fhir));
    expect(fhir.urls()).toEqual([]);
    expect(result.data.labs).toBe(sent);
    expect(result.status.labs).toBe('sent');
    expect(result.shortfalls).toEqual([
      { key: 'labs', from: 'ehr', asked: 'all', got: 2, total: 7, resolution: 'evaluated-with-part' },
    ]);
  });

  it('is evaluated as sent and reported when the refetch fails', async () => {
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-s3`]: status(500),
      [`${base}/Observation?patient=pt-s3&_count=4`]: status(500),
    });
    const sent = searchset(observations('kept', 1), 4);
    const result = await resolvePrefetch(
      all,
      call('pt-s3', { fhirServer: base, prefetch: { labs: sent } }),
      options(fhir),
    );
    expect(result.data.labs).toBe(sent);
    expect(result.status.labs).toBe('sent');
    expect(result.shortfalls?.[0]).toMatchObject({ key: 'labs', resolution: 'evaluated-with-part', got: 1, total: 4 });
  });

  it('asks the FHIR server for every match in one page when its own answer falls short without a next link', async () => {
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-s4`]: fhirJson(searchset(observations('page', 2), 5)),
      [`${base}/Observation?patient=pt-s4&_count=5`]: fhirJson(searchset(observations('all', 5), 5)),
    });
    const result = await resolvePrefetch(all, call('pt-s4', { fhirServer: base }), options(fhir));
    expect(fhir.urls()).toEqual([`${base}/Observation?patient=pt-s4`, `${base}/Observation?patient=pt-s4&_count=5`]);
    expect(entryIds(result.data.labs)).toHaveLength(5);
    expect(result.shortfalls).toEqual([
      { key: 'labs', from: 'fhir-server', asked: 'all', got: 2, total: 5, resolution: 'fetched-in-full' },
    ]);
  });

  it('keeps the fuller answer and reports part of the record when the FHIR server falls short again', async () => {
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-s5`]: fhirJson(searchset(observations('first', 2), 9)),
      [`${base}/Observation?patient=pt-s5&_count=9`]: fhirJson(searchset(observations('second', 3), 9)),
    });
    const result = await resolvePrefetch(all, call('pt-s5', { fhirServer: base }), options(fhir));
    expect(entryIds(result.data.labs)).toEqual(['second-0', 'second-1', 'second-2']);
    expect(result.shortfalls).toEqual([
      { key: 'labs', from: 'fhir-server', asked: 'all', got: 3, total: 9, resolution: 'evaluated-with-part' },
    ]);
  });

  it('does not ask for more matches than the call may still fetch (CDS_FHIR_MAX_RESOURCES)', async () => {
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-s6`]: fhirJson(searchset(observations('few', 2), 50)),
    });
    const result = await resolvePrefetch(all, call('pt-s6', { fhirServer: base }), options(fhir, { maxResources: 20 }));
    expect(fhir.urls()).toEqual([`${base}/Observation?patient=pt-s6`]);
    expect(result.shortfalls?.[0]).toMatchObject({ resolution: 'evaluated-with-part', got: 2, total: 50 });
  });

  it('reports a search cut below its own _count, and fetches it once as the template says', async () => {
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-s7&_sort=-date&_count=10`]: fhirJson(searchset(observations('ten', 10), 30)),
    });
    const sent = searchset(observations('four', 4), 30);
    const result = await resolvePrefetch(
      latest10,
      call('pt-s7', { fhirServer: base, prefetch: { labs: sent } }),
      options(fhir),
    );
    expect(fhir.urls()).toEqual([`${base}/Observation?patient=pt-s7&_sort=-date&_count=10`]);
    expect(entryIds(result.data.labs)).toHaveLength(10);
    expect(result.shortfalls).toEqual([
      { key: 'labs', from: 'ehr', asked: 10, got: 4, total: 30, resolution: 'fetched-in-full' },
    ]);
  });
});

describe('a prefetch search that holds what was asked, or more', () => {
  it('is used as sent: a search cut at its _count, one holding more than asked, one without total', async () => {
    const fhir = fakeFhir({});
    for (const sent of [
      searchset(observations('cut', 10), 30),
      searchset(observations('more', 15), 15),
      { resourceType: 'Bundle', type: 'searchset', entry: observations('untold', 3).map((resource) => ({ resource })) },
    ]) {
      const result = await resolvePrefetch(
        latest10,
        call('pt-ok', { fhirServer: base, prefetch: { labs: sent } }),
        options(fhir),
      );
      expect(result.data.labs).toBe(sent);
      expect(result.status.labs).toBe('sent');
      expect(result.shortfalls).toBeUndefined();
    }
    expect(fhir.urls()).toEqual([]);
  });

  it('counts only matches against total, not resources brought by _include', () => {
    const withIncludes = {
      ...searchset(observations('m', 2), 3),
      entry: [
        ...observations('m', 2).map((resource) => ({ resource, search: { mode: 'match' } })),
        { resource: { resourceType: 'Medication', id: 'inc' }, search: { mode: 'include' } },
      ],
    };
    expect(shortfallOf(withIncludes, undefined)).toEqual({ got: 2, total: 3 });
    expect(shortfallOf({ resourceType: 'Bundle', type: 'collection', total: 9, entry: [] }, undefined)).toBeUndefined();
    expect(shortfallOf({ resourceType: 'Patient', id: 'p' }, undefined)).toBeUndefined();
  });

  it("reads a template's _count, and none when it asks for every match", () => {
    expect(askedCount('Observation?patient={{context.patientId}}&_sort=-date&_count=10')).toBe(10);
    expect(askedCount('Observation?patient={{context.patientId}}')).toBeUndefined();
    expect(askedCount('Patient/{{context.patientId}}')).toBeUndefined();
  });
});
