import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { runCli } from '../../src/cli/program.js';
import {
  ACCEPTANCE_MEASURE,
  SERVICE_IDENTIFIER_SYSTEM,
  VERSION_IDENTIFIER_SYSTEM,
  WITHHELD_EXTENSION,
} from '../../src/uptake/index.js';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { fhirSchemaErrors } from '../support/fhir-schema.js';
import { EXPERIMENT_ID } from '../uptake/experiment-seed.js';
import { seedQualityLedger } from '../uptake/quality-ledger.js';
import { TEST_PSEUDONYM_KEY, testUptakeStore, type TestStore } from '../uptake/support.js';

const NOW = '2027-02-01T12:00:00Z';
let t: TestStore;
let app: (minCell: number) => Express;

beforeAll(async () => {
  const knowledge = await knowledgeFrom(testKnowledge('basic'));
  t = await testUptakeStore('sqlite');
  await seedQualityLedger(t.store);
  app = (minCell) => testApp({ knowledge, now: NOW, config: { uptakeMinCell: minCell }, deps: { uptake: t.store } });
});
afterAll(async () => {
  await t.cleanup();
});

type Json = Record<string, any>;
const get = (minCell: number, query: string) =>
  request(app(minCell)).get(`/uptake/report${query}`).set(asAdmin('quality'));

const population = (group: Json, code: string): Json =>
  group.population.find((p: Json) => p.code.coding[0].code === code);
const reportOf = (bundle: Json, service: string): Json =>
  bundle.entry.map((e: Json) => e.resource).find((r: Json) => r.identifier[0].value === service);
const stratum = (group: Json, stratifier: string, value: string): Json =>
  group.stratifier
    .find((s: Json) => s.code[0].coding[0].code === stratifier)
    .stratum.find((s: Json) => s.value.text === value);

describe('GET /uptake/report?format=ndjson', () => {
  it('answers one JSON object a line: the rows of the JSON report, each with its time and threshold', async () => {
    const json = (await get(1, '?groupBy=service,rule').expect(200)).body;
    const res = await get(1, '?groupBy=service,rule&format=ndjson').expect(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const lines = res.text.split('\n');
    expect(lines.pop()).toBe('');
    const objects = lines.map((l) => JSON.parse(l) as Json);
    expect(objects.map(({ generatedAt: _g, minCell: _m, ...row }) => row)).toEqual(json.rows);
    expect(objects.map((o) => [o.group.service, o.group.rule, o.cardsServed])).toContainEqual(['svc-a', 'r1', 15]);
    expect(objects.every((o) => o.minCell === 1 && !Number.isNaN(Date.parse(o.generatedAt)))).toBe(true);
  });

  it('withholds small cells as the JSON report does, and answers nothing but a newline-free body when empty', async () => {
    const rows = (await get(11, '?groupBy=service&format=ndjson').expect(200)).text.trim().split('\n');
    const a = JSON.parse(rows.find((l) => l.includes('"svc-a"'))!) as Json;
    expect(a).toMatchObject({ minCell: 11, accepted: null, overridden: null, cardsWithFeedback: 17 });
    expect(a.suppressed).toContain('accepted');
    expect((await get(1, '?service=nothing-here&format=ndjson').expect(200)).text).toBe('');
  });

  it('names the formats when another is asked for', async () => {
    const res = await get(1, '?format=xml').expect(400);
    expect(res.body.issue[0].diagnostics).toBe("format: 'xml' must be one of json, csv, ndjson, measure-report");
  });
});

describe('GET /uptake/report?format=measure-report', () => {
  it('answers a Bundle of MeasureReports, one per service, that validates against the FHIR R4 JSON schema', async () => {
    const res = await get(1, '?format=measure-report').expect(200);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    const bundle = JSON.parse(res.text) as Json;
    expect(fhirSchemaErrors('Bundle', bundle)).toEqual([]);
    for (const e of bundle.entry) expect(fhirSchemaErrors('MeasureReport', e.resource)).toEqual([]);
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'collection' });
    const services = bundle.entry.map((e: Json) => e.resource.identifier[0]);
    expect(services.map((s: Json) => s.value).sort()).toEqual(['svc-a', 'svc-b', 'svc-other', 'svc-s', 'svc-x']);
    expect(services.every((s: Json) => s.system === SERVICE_IDENTIFIER_SYSTEM)).toBe(true);

    const a = reportOf(bundle, 'svc-a');
    expect(a).toMatchObject({ status: 'complete', type: 'summary', measure: ACCEPTANCE_MEASURE });
    // No period asked for: the days of the service's data (seed.ts: 2026-06-01 and 02).
    expect(a.period).toEqual({ start: '2026-06-01T00:00:00.000Z', end: '2026-06-02T23:59:59.999Z' });
    const g = a.group[0];
    // seed.ts: 60 calls; 17 cards with feedback, 11 of them accepted.
    expect(population(g, 'initial-population').count).toBe(60);
    expect(population(g, 'denominator').count).toBe(17);
    expect(population(g, 'numerator').count).toBe(11);
    expect(g.measureScore.value).toBeCloseTo(11 / 17, 3);
    expect(population(stratum(g, 'version', 'rs-a@1.0.0'), 'numerator').count).toBe(11);
    expect(population(stratum(g, 'client', 'https://ehr-1.example.org'), 'denominator').count).toBe(17);
    // svc-b: 39 answered calls (one failed), 10 cards, no feedback: no score.
    const b = reportOf(bundle, 'svc-b').group[0];
    expect(population(b, 'initial-population').count).toBe(39);
    expect(population(b, 'denominator').count).toBe(0);
    expect(b.measureScore).toBeUndefined();
  });

  it('stratifies by experiment arm with the figures of the experiment report', async () => {
    const bundle = JSON.parse((await get(1, '?format=measure-report').expect(200)).text) as Json;
    const experiment = (
      await request(app(1)).get(`/uptake/experiments/${EXPERIMENT_ID}`).set(asAdmin('quality')).expect(200)
    ).body;
    const x = reportOf(bundle, 'svc-x').group[0];
    for (const arm of experiment.arms) {
      const s = stratum(x, 'arm', `${EXPERIMENT_ID}/${arm.arm}`);
      expect(population(s, 'initial-population').count).toBe(arm.calls);
      expect(population(s, 'denominator').count).toBe(arm.cardsWithFeedback);
      expect(population(s, 'numerator').count).toBe(arm.accepted);
    }
    // experiment-seed.ts: the usual arm's 24 cards with feedback, 16 accepted.
    expect(population(stratum(x, 'arm', `${EXPERIMENT_ID}/usual`), 'numerator').count).toBe(16);
    expect(population(stratum(x, 'arm', `${EXPERIMENT_ID}/usual`), 'denominator').count).toBe(24);
  });

  it('marks withheld small cells with the extension instead of a count, and still validates', async () => {
    const bundle = JSON.parse((await get(11, '?format=measure-report&from=2026-06-01&to=2026-06-30').expect(200)).text);
    expect(fhirSchemaErrors('Bundle', bundle)).toEqual([]);
    const a = reportOf(bundle, 'svc-a');
    expect(a.period).toEqual({ start: '2026-06-01T00:00:00.000Z', end: '2026-06-30T23:59:59.999Z' });
    const g = a.group[0];
    // 11 accepted and 6 overridden: the 6 is withheld, and with it accepted (their sum is shown) and the score.
    expect(population(g, 'denominator').count).toBe(17);
    expect(population(g, 'numerator')).toEqual({
      code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-population', code: 'numerator' }] },
      extension: [{ url: WITHHELD_EXTENSION, valueInteger: 11 }],
    });
    expect(g.measureScore).toEqual({ extension: [{ url: WITHHELD_EXTENSION, valueInteger: 11 }] });
    expect(JSON.stringify(bundle)).not.toMatch(/"count":\s*[1-9]\b(?!\d)/);
  });

  it('makes one MeasureReport per rule set @ version with groupBy=version, stratified by service', async () => {
    const bundle = JSON.parse((await get(1, '?format=measure-report&groupBy=version').expect(200)).text) as Json;
    expect(fhirSchemaErrors('Bundle', bundle)).toEqual([]);
    const ids = bundle.entry.map((e: Json) => e.resource.identifier[0]);
    expect(ids.every((i: Json) => i.system === VERSION_IDENTIFIER_SYSTEM)).toBe(true);
    expect(ids.map((i: Json) => i.value)).toEqual(expect.arrayContaining(['rs-a@1.0.0', 'rs-b@2.0.0', 'svc-x@1.1.0']));
    const a = bundle.entry.map((e: Json) => e.resource).find((r: Json) => r.identifier[0].value === 'rs-a@1.0.0');
    expect(population(a.group[0], 'numerator').count).toBe(11);
    expect(population(stratum(a.group[0], 'service', 'svc-a'), 'denominator').count).toBe(17);
    expect(a.period).toEqual({ start: '2026-06-01T00:00:00.000Z', end: '2026-06-02T23:59:59.999Z' });
  });

  it('refuses another grouping, and comments, which do not apply', async () => {
    const res = await get(1, '?format=measure-report&groupBy=rule').expect(400);
    expect(res.body.issue[0].diagnostics).toBe(
      'groupBy: format=measure-report makes one report per service or per version',
    );
    await get(1, '?format=measure-report&groupBy=service,version').expect(400);
    const comments = await get(1, '?format=measure-report&comments=true').expect(400);
    expect(comments.body.issue[0].expression).toEqual(['comments']);
  });
});

describe('cds uptake report --format ndjson and cds uptake export --format measure-report', () => {
  async function cds(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const env = {
      CDS_AUTH: 'off',
      CDS_DATA_DIR: t.config.dataDir,
      CDS_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY,
      CDS_KNOWLEDGE_DIR: testKnowledge('basic'),
      CDS_UPTAKE_MIN_CELL: '1',
    };
    const code = await runCli(args, { io: { stdout: (s) => (out += s), stderr: (s) => (err += s) }, env });
    return { code, out, err };
  }

  it('prints the same NDJSON rows as the HTTP answer', async () => {
    const r = await cds('uptake', 'report', '--group-by', 'service', '--format', 'ndjson');
    expect(r.code).toBe(0);
    const http = (await get(1, '?groupBy=service&format=ndjson').expect(200)).text;
    const strip = (text: string) =>
      text
        .trim()
        .split('\n')
        .map((l) => ({ ...(JSON.parse(l) as Json), generatedAt: undefined }));
    expect(strip(r.out)).toEqual(strip(http));
  });

  it('prints a MeasureReport Bundle that validates, with the figures of the HTTP export', async () => {
    const r = await cds('uptake', 'export', '--format', 'measure-report', '--service', 'svc-a');
    expect(r.code).toBe(0);
    const bundle = JSON.parse(r.out) as Json;
    expect(fhirSchemaErrors('Bundle', bundle)).toEqual([]);
    expect(bundle.entry).toHaveLength(1);
    expect(population(reportOf(bundle, 'svc-a').group[0], 'numerator').count).toBe(11);
    const perVersion = JSON.parse(
      (await cds('uptake', 'export', '--group-by', 'version', '--rule-set', 'rs-b')).out,
    ) as Json;
    expect(perVersion.entry.map((e: Json) => e.resource.identifier[0].value)).toEqual(['rs-b@2.0.0']);
  });
});
