// Every shipped example request, damaged at random places (seeded, so a failure can be replayed):
// the call must end in cards or a CdsError below 500 naming what is wrong, never an unexplained
// failure. FUZZ_ROUNDS and FUZZ_SEED run more or other rounds.
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtureRequests } from '../../bench/fixtures.js';
import { invokeService } from '../../src/engine/index.js';
import { CdsError } from '../../src/errors.js';
import type { Knowledge } from '../../src/knowledge/index.js';
import { knowledgeFrom, repoRoot } from '../support/app.js';

const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261127);

/**
 * Values of every JSON type, and the ones FHIR and CQL find hard (dates out of range, NUL, huge numbers, bad units).
 */
const REPLACEMENTS: unknown[] = [
  null,
  true,
  0,
  -1,
  1e308,
  0.1,
  'x',
  '',
  '\u0000',
  '2026-13-45',
  '2026-06-01T25:99:00Z',
  '9999-12-31',
  '0001-01-01',
  {},
  [],
  [null],
  [{}],
  [[1]],
  { resourceType: 'Bundle' },
  { resourceType: 'Bundle', entry: 5 },
  { resourceType: 'Nope' },
  { resourceType: 'Observation', valueQuantity: { value: 'x' } },
  { value: 'x' },
  { coding: [{}] },
  { coding: [{ system: 5, code: {} }] },
  JSON.parse('{"__proto__": {"polluted": 1}}'),
  'a'.repeat(20000),
  { start: '2026', end: '2025' },
  { value: -1e30, unit: 'mg', code: 'mg', system: 'http://unitsofmeasure.org' },
  { value: 5, code: 'not a unit', system: 'http://unitsofmeasure.org' },
  // At and just beyond each of CQL's own bounds (cql-execution's util/math.js and Date/DateTime ranges).
  1e20,
  1.0000001e20,
  -1e20,
  -1.0000001e20,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  -(2 ** 31) - 1,
  1e-9,
  { value: 1e20, unit: 'mg', code: 'mg', system: 'http://unitsofmeasure.org' },
  { value: 1.5e20, unit: 'mg', code: 'mg', system: 'http://unitsofmeasure.org' },
  { value: 2 ** 31, unit: 'mg', code: 'mg', system: 'http://unitsofmeasure.org' },
  '0001-01-01T00:00:00Z',
  '0001-01-01T00:00:00+01:00',
  '0000-12-31',
  '9999-12-31T23:59:59.999Z',
  '9999-12-31T23:59:59-01:00',
  '10000-01-01',
  '2026-02-29',
  '2024-02-29',
  '2026-04-31T10:00:00Z',
  '2026-06-01T24:00:00Z',
  '2026-06-01T23:59:60Z',
  '23:59:59',
  '24:00:00',
  '2026-06-01t10:00:00z',
  { start: '0001-01-01', end: '9999-12-31T23:59:59Z' },
];

const FHIR_CHECKS = ['warn', 'off', 'reject'] as const;

function random(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

type Path = Array<string | number>;

function pathsOf(node: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (at.length > 0) out.push(at);
  if (Array.isArray(node)) node.forEach((child, i) => pathsOf(child, [...at, i], out));
  else if (node && typeof node === 'object')
    for (const [key, child] of Object.entries(node)) pathsOf(child, [...at, key], out);
  return out;
}

/** The request with one to three of its values replaced or removed. */
function damaged(body: unknown, next: () => number): unknown {
  const copy = structuredClone(body);
  const paths = pathsOf(copy);
  for (let n = 1 + Math.floor(next() * 3); n > 0; n--) {
    const path = paths[Math.floor(next() * paths.length)];
    let parent = copy as Record<string | number, unknown> | undefined;
    for (const key of path.slice(0, -1)) parent = parent?.[key] as Record<string | number, unknown> | undefined;
    if (!parent || typeof parent !== 'object') continue;
    const key = path[path.length - 1];
    if (next() < 0.15 && !Array.isArray(parent)) delete parent[key];
    else parent[key] = structuredClone(REPLACEMENTS[Math.floor(next() * REPLACEMENTS.length)]);
  }
  return copy;
}

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(repoRoot);
});

describe('damaged hook requests', () => {
  it(
    `end in cards or a clear client error, never a server error, in every CDS_FHIR_CHECK mode (${ROUNDS} rounds, seed ${SEED})`,
    async () => {
      const requests = fixtureRequests();
      const next = random(SEED);
      const outcomes = new Map<number, number>();
      const failures: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const request = requests[Math.floor(next() * requests.length)];
        const body = damaged(request.body, next);
        let status = 200;
        try {
          await invokeService(knowledge, request.service, body, {
            // Every CDS_FHIR_CHECK mode in turn: none may let a value through that makes CQL fail.
            fhirCheck: FHIR_CHECKS[round % FHIR_CHECKS.length],
            clock: () => new Date('2026-06-01T12:00:00Z'),
            prefetch: {
              timeoutMs: 100,
              maxPages: 1,
              fetchImpl: () => Promise.reject(new Error('no FHIR server in this test')),
            },
          });
        } catch (err) {
          status = err instanceof CdsError ? err.status : 0;
          if (status < 400 || status >= 500)
            failures.push(
              `round ${round} (${request.service}/${request.name}): ${err instanceof CdsError ? `${status} ${err.internal ?? err.message}` : String(err)}`,
            );
        }
        outcomes.set(status, (outcomes.get(status) ?? 0) + 1);
      }
      expect(failures).toEqual([]);
      // The damage reaches the evaluation, not only the request checks.
      expect(outcomes.get(200)).toBeGreaterThan(ROUNDS / 3);
      expect(outcomes.get(400)).toBeGreaterThan(ROUNDS / 20);
    },
    Math.max(120_000, ROUNDS * 40),
  );
});
