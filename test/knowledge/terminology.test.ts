// Value sets the knowledge cannot expand itself, expanded at load by a FHIR terminology server: here a
// loopback stub answering ValueSet/$expand as VSAC does, then the same knowledge offline from the saved expansions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { runCli } from '../../src/cli/program.js';
import {
  EXPANSION_DIR,
  formatProblem,
  knowledgeDigest,
  loadKnowledge,
  recordingFiles,
  sourcesFiles,
  terminologyOptions,
  type Knowledge,
} from '../../src/knowledge/index.js';
import { knowledgeFrom, sharedTranslator, testKnowledge } from '../support/app.js';

const DIABETES = '2.16.840.1.113883.3.464.1003.103.12.1001';
const HBA1C = '2.16.840.1.113883.3.464.1003.198.12.1013';
const TOKEN = 'tok-terminology-41c9';

const expansion = (id: string, codes: Array<[string, string]>) => ({
  resourceType: 'ValueSet',
  id,
  url: `http://cts.nlm.nih.gov/fhir/ValueSet/${id}`,
  version: '20240101',
  expansion: { total: codes.length, contains: codes.map(([system, code]) => ({ system, code })) },
});

let server: Server;
let base: string;
const seen: Array<{ url: string; authorization?: string }> = [];
let hang = false;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    if (hang) return; // never answers
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    const url = new URL(req.url ?? '', 'http://stub');
    let body: unknown;
    if (url.pathname === `/fhir/ValueSet/${HBA1C}/$expand`) body = expansion(HBA1C, [['http://loinc.org', '4548-4']]);
    else if (
      url.pathname === '/fhir/ValueSet/$expand' &&
      url.searchParams.get('url') === `http://cts.nlm.nih.gov/fhir/ValueSet/${DIABETES}` &&
      url.searchParams.get('valueSetVersion') === '20240101'
    )
      body = expansion(DIABETES, [
        ['http://snomed.info/sct', '44054006'],
        ['http://snomed.info/sct', '46635009'],
      ]);
    if (!body) {
      res.writeHead(404, { 'content-type': 'application/fhir+json' }).end('{"resourceType":"OperationOutcome"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The measure knowledge as downloaded without expansions: Diabetes as an intensional compose, HbA1c not at all. */
function unexpanded(): string {
  const d = mkdtempSync(join(tmpdir(), 'cds-terminology-'));
  cpSync(testKnowledge('measure'), d, { recursive: true });
  rmSync(join(d, 'cql', 'valuesets', 'hba1c.json'));
  writeFileSync(
    join(d, 'cql', 'valuesets', 'diabetes.json'),
    JSON.stringify({
      resourceType: 'ValueSet',
      id: DIABETES,
      url: `http://cts.nlm.nih.gov/fhir/ValueSet/${DIABETES}`,
      version: '20240101',
      compose: {
        include: [
          { system: 'http://snomed.info/sct', filter: [{ property: 'concept', op: 'is-a', value: '73211009' }] },
        ],
      },
    }),
  );
  return d;
}

const errors = (k: Knowledge) => k.problems.filter((p) => p.severity === 'error').map(formatProblem);
const options = (extra: Partial<{ timeoutMs: number; token: string }> = {}) => ({
  url: base,
  token: TOKEN,
  timeoutMs: 2000,
  ...extra,
});

describe('value sets expanded by a terminology server', () => {
  it('without one, says which ValueSet cannot be expanded here and which the CQL names but nobody ships', async () => {
    const k = await knowledgeFrom(unexpanded());
    expect(k.services).toEqual([]);
    expect(errors(k)).toEqual(
      expect.arrayContaining([
        `cql/valuesets/diabetes.json /compose: error: the ValueSet http://cts.nlm.nih.gov/fhir/ValueSet/${DIABETES} has no expansion and cannot be expanded here (compose.include[0] has a filter): ship its expansion, or set CDS_TERMINOLOGY_URL to expand it at load`,
        `cql/GlycemicStatusGap-1.0.0.cql: error: value set "HbA1c Laboratory Test" (urn:oid:${HBA1C}) is not in cql/valuesets/: a missing value set would silently match nothing`,
      ]),
    );
  });

  it('expands both at load with the token, saves the expansions, and loads offline afterwards', async () => {
    const d = unexpanded();
    seen.length = 0;
    const online = await knowledgeFrom(d, { terminology: options() });
    expect(errors(online)).toEqual([]);
    expect(online.services.map((s) => s.definition.id)).toEqual(['glycemic-gap']);
    expect(seen.map((s) => s.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    expect(online.valueSets[DIABETES]['20240101'].map((c) => c.code)).toEqual(['44054006', '46635009']);
    const saved = readdirSync(join(d, EXPANSION_DIR)).sort();
    expect(saved).toEqual([`${HBA1C}.json`, `cts.nlm.nih.gov_fhir_ValueSet_${DIABETES}-20240101.json`]);
    expect(readFileSync(join(d, EXPANSION_DIR, saved[0]), 'utf8')).not.toContain(TOKEN);

    seen.length = 0;
    const offline = await knowledgeFrom(d);
    expect(seen).toEqual([]);
    expect(errors(offline)).toEqual([]);
    expect(offline.valueSets[DIABETES]['20240101']).toEqual(online.valueSets[DIABETES]['20240101']);
    expect(offline.valueSets[`urn:oid:${HBA1C}`]['20240101']).toEqual([{ code: '4548-4', system: 'http://loinc.org' }]);
    expect(offline.problems.map(formatProblem).join('\n')).toContain('(expanded by the terminology server)');
    // The same knowledge as the load that expanded them (the order the value sets were found in aside).
    expect(knowledgeDigest(offline)).toBe(knowledgeDigest(online));
  });

  it('loads again from the sources of a load that expanded them, finding the expansions as the files would', async () => {
    const d = unexpanded();
    const translator = await sharedTranslator();
    const recorded = recordingFiles();
    const online = await loadKnowledge(d, { translator, terminology: options(), files: recorded.files });
    expect(errors(online)).toEqual([]);
    // The directory is gone and no server is named: the sources alone give the same knowledge.
    rmSync(d, { recursive: true, force: true });
    seen.length = 0;
    const again = await loadKnowledge(d, { translator, files: sourcesFiles(recorded.sources()) });
    expect(seen).toEqual([]);
    expect(errors(again)).toEqual([]);
    expect(knowledgeDigest(again)).toBe(knowledgeDigest(online));
  });

  it('serves from a knowledge directory it cannot write to, and says the expansions were not saved', async () => {
    const d = unexpanded();
    // A file where the expansions' directory belongs: writing there fails as on a read-only mount.
    writeFileSync(join(d, EXPANSION_DIR), 'not a directory');
    const k = await knowledgeFrom(d, { terminology: options() });
    expect(errors(k)).toEqual([]);
    expect(k.services.map((s) => s.definition.id)).toEqual(['glycemic-gap']);
    expect(k.problems.map(formatProblem).join('\n')).toContain('could not be saved');
  });

  it('does the same through cds validate with CDS_TERMINOLOGY_URL and CDS_TERMINOLOGY_TOKEN', async () => {
    const d = unexpanded();
    const out: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => out.push(t) };
    const env = { CDS_TERMINOLOGY_URL: base, CDS_TERMINOLOGY_TOKEN: TOKEN };
    expect(await runCli(['validate', d], { io, env })).toBe(0);
    expect(out.join('')).toContain('0 errors');
    expect(await runCli(['validate', d], { io, env: {} })).toBe(0);
  });

  it('reports a refused token, and keeps the value set an error', async () => {
    const d = unexpanded();
    const k = await knowledgeFrom(d, { terminology: options({ token: 'wrong' }) });
    expect(errors(k).join('\n')).toContain(
      `the terminology server could not expand value set http://cts.nlm.nih.gov/fhir/ValueSet/${DIABETES} version 20240101: it answered 401 (check CDS_TERMINOLOGY_TOKEN)`,
    );
    expect(k.services).toEqual([]);
    expect(existsSync(join(d, EXPANSION_DIR))).toBe(false);
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    hang = true;
    try {
      const k = await knowledgeFrom(unexpanded(), { terminology: options({ timeoutMs: 150 }) });
      expect(errors(k).join('\n')).toContain('no answer within 150 ms');
    } finally {
      hang = false;
    }
  });

  it('takes its URL, token and timeout from CDS_TERMINOLOGY_*', () => {
    const config = loadConfig(
      { CDS_TERMINOLOGY_URL: `${base}/`, CDS_TERMINOLOGY_TOKEN: TOKEN, CDS_TERMINOLOGY_TIMEOUT_MS: '500' },
      { requireAuthSettings: false },
    );
    expect(terminologyOptions(config)).toEqual({ url: base, token: TOKEN, timeoutMs: 500 });
    expect(terminologyOptions(loadConfig({}, { requireAuthSettings: false }))).toBeUndefined();
  });
});
