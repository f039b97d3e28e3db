// Measure-style logic as eCQM and HEDIS content is written: a "Measurement Period" declared without a
// default, value sets named by VSAC URL (https), urn:oid: and bare OID, VSAC-shaped ValueSets (id = OID,
// url with http), revenue codes without a code system, a compose-only ValueSet and a Bundle of ValueSets.
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { evaluate } from '../../src/engine/index.js';
import { formatProblem, type Knowledge } from '../../src/knowledge/index.js';
import { runCli } from '../../src/cli/program.js';
import type { HookRequest } from '../../src/hooks/index.js';
import { captureLogs } from '../support/logs.js';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const dir = testKnowledge('measure');
const SNOMED = 'http://snomed.info/sct';
const daysAgo = (n: number, from = NOW) => new Date(from.getTime() - n * 86400000).toISOString();

function patient(opts: { hba1cDaysAgo?: number; visit?: 'office' | 'revenue' | 'revenue-with-system'; unit?: string }) {
  const encounters = [];
  if (opts.visit)
    encounters.push({
      resourceType: 'Encounter',
      id: 'visit',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      type: [
        opts.visit === 'office'
          ? { coding: [{ system: SNOMED, code: '185463005' }] }
          : opts.visit === 'revenue'
            ? { coding: [{ code: '0510' }] }
            : { coding: [{ system: 'https://www.nubc.org/CodeSystem/RevenueCodes', code: '0510' }] },
      ],
      subject: { reference: 'Patient/m-1' },
      period: { start: daysAgo(40), end: daysAgo(40) },
    });
  const observations =
    opts.hba1cDaysAgo === undefined
      ? []
      : [
          {
            resourceType: 'Observation',
            id: 'a1c',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
            subject: { reference: 'Patient/m-1' },
            effectiveDateTime: daysAgo(opts.hba1cDaysAgo),
            valueQuantity: { value: 7.1, unit: '%', system: 'http://unitsofmeasure.org', code: opts.unit ?? '%' },
          },
        ];
  const bundle = (resources: unknown[]) => ({
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((resource) => ({ resource })),
  });
  return {
    hook: 'patient-view',
    hookInstance: 'measure-test',
    context: { userId: 'Practitioner/m', patientId: 'm-1' },
    prefetch: {
      patient: { resourceType: 'Patient', id: 'm-1', birthDate: '1960-02-02' },
      conditions: bundle([
        {
          resourceType: 'Condition',
          id: 'dm',
          subject: { reference: 'Patient/m-1' },
          code: { coding: [{ system: SNOMED, code: '44054006' }] },
        },
      ]),
      hba1c: bundle(observations),
      encounters: bundle(encounters),
    },
  } satisfies HookRequest;
}

async function defines(k: Knowledge, req: HookRequest, now = NOW) {
  return (await evaluate(k, k.services[0], req, req.prefetch!, { now })).trace.cql;
}

function variant(change: (d: string) => void): string {
  const d = mkdtempSync(join(tmpdir(), 'cds-measure-'));
  cpSync(dir, d, { recursive: true });
  change(d);
  return d;
}

function withParameters(d: string, parameters: Record<string, unknown>): void {
  const file = join(d, 'cds-services.json');
  const catalogue = JSON.parse(readFileSync(file, 'utf8'));
  catalogue.services[0].knowledge.parameters = parameters;
  writeFileSync(file, JSON.stringify(catalogue));
}

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(dir);
});

describe('a measure-style library with an unbound Measurement Period', () => {
  it('loads when the service binds the period relative to now', () => {
    expect(knowledge.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
    expect(knowledge.services.map((s) => s.definition.id)).toEqual(['glycemic-gap']);
  });

  it('evaluates "the 12 months before now" as of the evaluation time, and the period moves with it', async () => {
    const values = await defines(knowledge, patient({ visit: 'office', hba1cDaysAgo: 200 }));
    expect(values['Period Start']).toBe('2025-06-01T12:00:00.000+00:00');
    expect(values['Period End']).toBe('2026-06-01T12:00:00.000+00:00');
    expect(values.Gap).toBe(false);
    const later = new Date('2026-12-01T12:00:00Z');
    const moved = await defines(knowledge, patient({ visit: 'office', hba1cDaysAgo: 200 }), later);
    expect(moved['Period Start']).toBe('2025-12-01T12:00:00.000+00:00');
  });

  it('finds the gap over HTTP: diabetes, a visit in the period, no HbA1c in it', async () => {
    const app = testApp({ knowledge, now: NOW.toISOString() });
    const gap = await request(app)
      .post('/cds-services/glycemic-gap')
      .send(patient({ visit: 'office', hba1cDaysAgo: 400 }));
    expect(gap.status).toBe(200);
    expect(gap.body.cards.map((c: { summary: string }) => c.summary)).toEqual([
      'No HbA1c since 2025-06-01T12:00:00.000+00:00',
    ]);
    const none = await request(app)
      .post('/cds-services/glycemic-gap')
      .send(patient({ visit: 'office', hba1cDaysAgo: 30 }));
    expect(none.body.cards).toEqual([]);
  });

  it.each([
    [{ interval: ['2025-01-01', '2025-12-31'] }, '2025-01-01T00:00:00.000+00:00', '2025-12-31T23:59:59.999+00:00'],
    [{ relative: 'this calendar year' }, '2026-01-01T00:00:00.000+00:00', '2026-12-31T23:59:59.999+00:00'],
    [{ relative: 'last calendar year' }, '2025-01-01T00:00:00.000+00:00', '2025-12-31T23:59:59.999+00:00'],
    [{ relative: 'last calendar month' }, '2026-05-01T00:00:00.000+00:00', '2026-05-31T23:59:59.999+00:00'],
    [
      { interval: ['2026-01-01T08:00:00+02:00', '2026-03-01T00:00:00Z'], highClosed: false },
      '2026-01-01T06:00:00.000+00:00',
      // A half-open interval ends a millisecond before its high bound.
      '2026-02-28T23:59:59.999+00:00',
    ],
  ])('takes %j as the Measurement Period', async (binding, start, end) => {
    const k = await knowledgeFrom(variant((d) => withParameters(d, { 'Measurement Period': binding })));
    expect(k.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
    const values = await defines(k, patient({ visit: 'office' }));
    expect([values['Period Start'], values['Period End']]).toEqual([start, end]);
  });

  it('is a load error naming the library, the line and the parameter when nothing binds it', async () => {
    const d = variant((v) => withParameters(v, {}));
    const k = await knowledgeFrom(d);
    expect(k.services).toEqual([]);
    const message =
      'cql/GlycemicStatusGap-1.0.0.cql:18: library GlycemicStatusGap 1.0.0 declares parameter "Measurement Period" Interval<DateTime> without a default, and knowledge.parameters gives it no value';
    expect(k.unavailable[0].reasons).toEqual([message]);
    const out: string[] = [];
    const code = await runCli(['validate', d], {
      io: { stdout: (t) => out.push(t), stderr: (t) => out.push(t) },
      env: {},
    });
    expect(code).toBe(1);
    expect(out.join('')).toContain(message);
  });

  it.each([
    [
      { value: 5 },
      'knowledge.parameters.Measurement Period (Interval<DateTime>): the parameter is Interval<DateTime>: give {"interval": [low, high]}',
    ],
    [
      { interval: ['2025-01-01', 'June'] },
      'knowledge.parameters.Measurement Period (Interval<DateTime>): "June" is not a DateTime',
    ],
    [
      { relative: 'since the last full moon' },
      "knowledge.parameters.Measurement Period (Interval<DateTime>): 'since the last full moon' is not a relative time this server knows",
    ],
  ])('refuses %j at load, saying why against the declared type', async (binding, why) => {
    const k = await knowledgeFrom(variant((d) => withParameters(d, { 'Measurement Period': binding })));
    expect(k.services).toEqual([]);
    expect(k.unavailable[0].reasons[0]).toContain(why);
  });

  it('refuses a value that is neither a binding nor one literal form, at its JSON pointer', async () => {
    const k = await knowledgeFrom(
      variant((d) => withParameters(d, { 'Measurement Period': { value: 1, relative: 'now' } })),
    );
    expect(k.fatal).toBeDefined();
    expect(k.problems.map(formatProblem).join('\n')).toContain('/services/0/knowledge/parameters/Measurement Period');
  });

  describe('an evaluation error', () => {
    // "singleton from" a list of two fails in cql-execution: two diabetes conditions recorded.
    const failing = () => {
      const req = patient({ visit: 'office', hba1cDaysAgo: 30 });
      const conditions = req.prefetch.conditions.entry as Array<{ resource: Record<string, unknown> }>;
      conditions.push({ resource: { ...conditions[0].resource, id: 'dm-again' } });
      return req;
    };
    it('logs its CQL location (not the engine message, which may quote data), and answers 500 without it', async () => {
      const logs = captureLogs();
      const app = testApp({ knowledge, now: NOW.toISOString(), deps: { logger: logs.logger } });
      const res = await request(app).post('/cds-services/glycemic-gap').send(failing());
      expect(res.status).toBe(500);
      const body = JSON.stringify(res.body);
      expect(body).not.toContain('SingletonFrom');
      expect(body).not.toMatch(/\d+:\d+-\d+:\d+/);
      const line = logs.lines.find((l) => l.message === 'request failed');
      expect(line?.cql).toEqual({
        define: 'The Diabetes Diagnosis',
        library: expect.stringMatching(/^GlycemicStatusGap/),
        line: '51:3-51:42',
        expression: 'SingletonFrom',
      });
      expect(JSON.stringify(line)).not.toContain('requires');
    });

    it('is printed by cds eval with its CQL location', async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'cds-measure-req-')), 'request.json');
      writeFileSync(file, JSON.stringify(failing()));
      const err: string[] = [];
      const out: string[] = [];
      const code = await runCli(
        ['eval', '--service', 'glycemic-gap', '--request', file, '--dir', dir, '--as-of', NOW.toISOString()],
        {
          io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
          env: {},
        },
      );
      expect(code).toBe(1);
      expect(err.join('')).toMatch(
        /evaluating CQL library GlycemicStatusGap 1\.0\.0 failed: define "The Diabetes Diagnosis", library GlycemicStatusGap 1\.0\.0, line 51:3-51:42 \(SingletonFrom\)/,
      );
      // The trace up to the failure: the defines evaluated before it, then where and why.
      const text = out.join('');
      expect(text).toContain('  Period Start = "2025-06-01T12:00:00.000+00:00"');
      expect(text).toContain('failed: define "The Diabetes Diagnosis", library GlycemicStatusGap 1.0.0');
      expect(text).toContain('  at cql/GlycemicStatusGap-1.0.0.cql line 51:3-51:42 (SingletonFrom)');
    });

    it('is in the trace of cds eval --json', async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'cds-measure-req-')), 'request.json');
      writeFileSync(file, JSON.stringify(failing()));
      const out: string[] = [];
      const args = ['eval', '--service', 'glycemic-gap', '--request', file, '--dir', dir, '--as-of', NOW.toISOString()];
      const code = await runCli([...args, '--json'], {
        io: { stdout: (t) => out.push(t), stderr: () => undefined },
        env: {},
      });
      expect(code).toBe(1);
      const doc = JSON.parse(out.join('')) as {
        error: Record<string, unknown>;
        explanation: { cql: Record<string, unknown> };
      };
      expect(doc.error).toEqual({
        define: 'The Diabetes Diagnosis',
        library: 'GlycemicStatusGap|1.0.0',
        file: 'cql/GlycemicStatusGap-1.0.0.cql',
        locator: '51:3-51:42',
        expression: 'SingletonFrom',
        message: expect.stringContaining('SingletonFrom'),
      });
      expect(doc.explanation.cql['Has Diabetes']).toBe(true);
    });
  });
});

describe('value sets as VSAC and measure packages ship them', () => {
  it('finds https, urn:oid: and bare-OID references to http VSAC ValueSets, and says how', () => {
    const infos = knowledge.problems.filter((p) => p.severity === 'info').map((p) => p.message);
    expect(infos).toEqual([
      expect.stringContaining(
        `value set "Diabetes" ('https://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.103.12.1001') found by its OID 2.16.840.1.113883.3.464.1003.103.12.1001: http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.103.12.1001|20240101 in cql/valuesets/diabetes.json`,
      ),
      expect.stringContaining(
        `value set "HbA1c Laboratory Test" ('urn:oid:2.16.840.1.113883.3.464.1003.198.12.1013') found by its OID`,
      ),
      expect.stringContaining(
        `value set "Outpatient Revenue" ('2.16.840.1.113883.3.464.1003.101.12.1087') found by its OID 2.16.840.1.113883.3.464.1003.101.12.1087: http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.101.12.1087|20240101 in cql/valuesets/encounters-bundle.json /entry/0/resource`,
      ),
    ]);
  });

  it('cds validate prints how each reference was resolved when it was not by exact URL', async () => {
    const out: string[] = [];
    const code = await runCli(['validate', dir], {
      io: { stdout: (t) => out.push(t), stderr: (t) => out.push(t) },
      env: {},
    });
    expect(code).toBe(0);
    const text = out.join('');
    expect(text.match(/: info: value set .* found by its OID/g)).toHaveLength(3);
    expect(text).toContain('0 errors, 1 warning, 3 notes; 1 service ready');
  });

  it('keeps revenue codes without a code system, warns once, and matches them as cql-execution does', async () => {
    const warnings = knowledge.problems.filter((p) => p.severity === 'warning').map(formatProblem);
    expect(warnings).toEqual([
      'cql/valuesets/encounters-bundle.json /entry/0/resource/expansion: warning: 4 of 4 codes of http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.101.12.1087 have no code system: kept, and they match only data codes that have no system either (as cql-execution compares codes)',
    ]);
    expect(knowledge.valueSets['2.16.840.1.113883.3.464.1003.101.12.1087']['20240101']).toHaveLength(4);
    // A system-less revenue code in the data matches; the same code with a system does not (cql-execution
    // compares code and system).
    expect((await defines(knowledge, patient({ visit: 'revenue' })))['Qualifying Visits']).toHaveLength(1);
    expect((await defines(knowledge, patient({ visit: 'revenue-with-system' })))['Qualifying Visits']).toHaveLength(0);
  });

  it('expands a compose-only ValueSet here, excluded concepts left out', async () => {
    expect(knowledge.valueSets['2.16.840.1.113883.3.464.1003.198.12.1013']['20240101']).toEqual([
      { code: '4548-4', system: 'http://loinc.org' },
      { code: '17856-6', system: 'http://loinc.org' },
    ]);
    // The Office Visit ValueSet is compose-only inside a Bundle, named with |version.
    expect((await defines(knowledge, patient({ visit: 'office' })))['Qualifying Visits']).toHaveLength(1);
  });

  it('says a reference with a version nobody ships is missing, never a silently empty set', async () => {
    const d = variant((v) => {
      const file = join(v, 'cql', 'GlycemicStatusGap-1.0.0.cql');
      writeFileSync(file, readFileSync(file, 'utf8').replace('|20240101', '|20990101'));
    });
    const k = await knowledgeFrom(d);
    expect(k.services).toEqual([]);
    expect(k.problems.map(formatProblem)).toContain(
      'cql/GlycemicStatusGap-1.0.0.cql: error: value set "Office Visit" (http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.101.12.1001|20990101) is not in cql/valuesets/: a missing value set would silently match nothing',
    );
  });
});
