// Multi-library CQL written the way published CDS is (CDC opioid CDS, CDS Connect): a main library,
// a common library, FHIRHelpers, value sets by OID and by canonical URL, UCUM quantities, a
// parameter bound from the draft orders and non-default translator options. Each gap between the
// translator's ELM and cql-execution has a regression test here.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { evaluate } from '../../src/engine/index.js';
import { formatProblem, type Knowledge } from '../../src/knowledge/index.js';
import { normalizeElm } from '../../src/knowledge/cql/normalize-elm.js';
import type { HookRequest } from '../../src/hooks/index.js';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const RX = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const dir = testKnowledge('published');
const expected = JSON.parse(readFileSync(join(dir, 'expected-values.json'), 'utf8')) as Record<
  string,
  Record<string, unknown>
>;

const daysAgo = (n: number) => new Date(NOW.getTime() - n * 86400000).toISOString();

function med(
  id: string,
  code: string,
  status: string,
  opts: { authored?: string; dose?: number; frequency?: number } = {},
): Record<string, unknown> {
  return {
    resourceType: 'MedicationRequest',
    id,
    status,
    intent: 'order',
    subject: { reference: 'Patient/pub-1' },
    medicationCodeableConcept: { coding: [{ system: RX, code }] },
    ...(opts.authored ? { authoredOn: opts.authored } : {}),
    ...(opts.dose
      ? {
          dosageInstruction: [
            {
              timing: { repeat: { frequency: opts.frequency ?? 1, period: 1, periodUnit: 'd' } },
              doseAndRate: [
                { doseQuantity: { value: opts.dose, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } },
              ],
            },
          ],
        }
      : {}),
  };
}

const bundle = (type: string, resources: Array<Record<string, unknown>>) => ({
  resourceType: 'Bundle',
  type,
  entry: resources.map((resource) => ({ resource })),
});

const CASES: Record<
  string,
  {
    drafts: Array<Record<string, unknown>>;
    record: Array<Record<string, unknown>>;
    conditions?: Array<Record<string, unknown>>;
  }
> = {
  'high-dose-with-benzodiazepine': {
    drafts: [med('draft-oxy', '1049621', 'draft', { dose: 10, frequency: 6 })],
    record: [
      med('alprazolam-active', '308047', 'active', { authored: daysAgo(20) }),
      med('lorazepam-stopped', '197589', 'stopped', { authored: daysAgo(10) }),
      med('oxy-30-days-ago', '1049621', 'completed', { authored: daysAgo(30) }),
    ],
  },
  'naive-low-dose-with-naloxone': {
    drafts: [med('draft-morphine', '856980', 'draft', { dose: 15, frequency: 2 })],
    record: [
      med('naloxone', '1725059', 'active', { authored: daysAgo(5) }),
      med('oxy-200-days-ago', '1049621', 'completed', { authored: daysAgo(200) }),
    ],
    conditions: [
      {
        resourceType: 'Condition',
        id: 'oud',
        subject: { reference: 'Patient/pub-1' },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '5602001' }] },
      },
    ],
  },
  'no-opioid-drafted': {
    drafts: [med('draft-lorazepam', '197589', 'draft', { dose: 1, frequency: 2 })],
    record: [med('naloxone-stopped', '1725059', 'stopped', { authored: daysAgo(5) })],
  },
};

function hookRequest(name: string): HookRequest {
  const c = CASES[name];
  return {
    hook: 'order-sign',
    hookInstance: `published-${name}`,
    context: { userId: 'Practitioner/pub', patientId: 'pub-1', draftOrders: bundle('collection', c.drafts) },
    prefetch: {
      patient: { resourceType: 'Patient', id: 'pub-1', birthDate: '1961-04-02' },
      medications: bundle('searchset', c.record),
      conditions: bundle('searchset', c.conditions ?? []),
    },
  };
}

/** Compares only what the expectation names; resources are compared by id. */
function shape(value: unknown, like: unknown): unknown {
  if (Array.isArray(value) && Array.isArray(like)) return value.map((v, i) => shape(v, like[i] ?? like[0]));
  if (value && typeof value === 'object' && like && typeof like === 'object') {
    return Object.fromEntries(
      Object.keys(like).map((k) => [
        k,
        shape((value as Record<string, unknown>)[k], (like as Record<string, unknown>)[k]),
      ]),
    );
  }
  return value;
}

async function defineValues(knowledge: Knowledge, name: string): Promise<Record<string, unknown>> {
  const req = hookRequest(name);
  const evaluation = await evaluate(knowledge, knowledge.services[0], req, req.prefetch!, { now: NOW });
  return evaluation.trace.cql;
}

/** Errors and warnings; `info` only says how published content was understood. */
const faults = (k: Knowledge) => k.problems.filter((p) => p.severity !== 'info').map(formatProblem);

// The published library's local wrapper is still a draft: loaded as `cds test` loads it.
const DRAFTS = { serveDrafts: true };

function variant(change: (d: string) => void): string {
  const d = mkdtempSync(join(tmpdir(), 'cds-published-'));
  cpSync(dir, d, { recursive: true });
  change(d);
  return d;
}

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(dir, DRAFTS);
});

describe('published-style multi-library CQL', () => {
  it('compiles from source in process without problems', () => {
    expect(faults(knowledge)).toEqual([]);
    // The VSAC value set is named by urn:oid: and found by its id: said once, at info.
    expect(knowledge.problems.filter((p) => p.severity === 'info').map((p) => p.message)).toEqual([
      expect.stringMatching(/^value set "Opioid analgesics with ambulatory misuse potential" .* found by its OID /),
    ]);
    expect(knowledge.services[0].ruleSet.libraries).toEqual([
      { library: 'OpioidReview', version: '1.0.0' },
      { library: 'FHIRHelpers', version: '4.0.1' },
      { library: 'OpioidCommon', version: '1.0.0' },
    ]);
  });

  it.each(Object.keys(expected))('yields exactly the expected define values for %s', async (name) => {
    const values = await defineValues(knowledge, name);
    expect(shape(values, expected[name])).toEqual(expected[name]);
  });

  it('answers over HTTP with the card the rule set draws from those values', async () => {
    const app = testApp({ knowledge, now: NOW.toISOString() });
    const fire = await request(app)
      .post('/cds-services/opioid-review')
      .send(hookRequest('high-dose-with-benzodiazepine'))
      .expect(200);
    expect(fire.body.cards.map((c: { summary: string }) => c.summary)).toEqual([
      'New opioid orders total 60 mg/d without naloxone',
    ]);
    const quiet = await request(app)
      .post('/cds-services/opioid-review')
      .send(hookRequest('naive-low-dose-with-naloxone'))
      .expect(200);
    expect(quiet.body.cards).toEqual([]);
  });

  it('gives the same values whatever the server time zone', async () => {
    const saved = process.env.TZ;
    try {
      const results: string[] = [];
      for (const tz of ['Pacific/Kiritimati', 'America/Adak', 'UTC']) {
        process.env.TZ = tz;
        results.push(JSON.stringify(await defineValues(knowledge, 'high-dose-with-benzodiazepine')));
      }
      expect(new Set(results).size).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });

  it('uses the evaluation time given, not the clock: the 90-day look-back moves with it', async () => {
    const req = hookRequest('naive-low-dose-with-naloxone');
    const earlier = await evaluate(knowledge, knowledge.services[0], req, req.prefetch!, {
      now: new Date(NOW.getTime() - 150 * 86400000),
    });
    expect(earlier.trace.cql['Is Opioid Naive']).toBe(false);
  });
});

describe('translator configuration', () => {
  it('applies per-library options from cql/cql-options.json (list promotion for OpioidReview only)', async () => {
    const d = variant((v) => rmSync(join(v, 'cql/cql-options.json')));
    const problems = (await knowledgeFrom(d, DRAFTS)).problems.map(formatProblem);
    expect(problems).toContainEqual(
      expect.stringMatching(/^cql\/OpioidReview-1\.0\.0\.cql:46:\d+: error: Could not resolve call to operator Count/),
    );
  });

  it('reports an invalid options file with its JSON pointer', async () => {
    const d = variant((v) =>
      writeFileSync(join(v, 'cql/cql-options.json'), JSON.stringify({ options: ['EnableListMagic'] })),
    );
    const problems = (await knowledgeFrom(d, DRAFTS)).problems.map(formatProblem);
    expect(problems).toContainEqual(
      expect.stringMatching(/^cql\/cql-options\.json \/options\/0: error: must be equal to one of the allowed values/),
    );
  });

  it('keeps several versions of one library side by side and uses the version asked for', async () => {
    const d = variant((v) => {
      const common = readFileSync(join(v, 'cql/OpioidCommon-1.0.0.cql'), 'utf8');
      // The file name does not matter: the library header is its identity.
      writeFileSync(
        join(v, 'cql/common-next.cql'),
        common.replace("version '1.0.0'", "version '2.0.0'").replace('default 90 days', 'default 365 days'),
      );
    });
    const k = await knowledgeFrom(d, DRAFTS);
    expect(faults(k)).toEqual([]);
    expect((await defineValues(k, 'naive-low-dose-with-naloxone'))['Is Opioid Naive']).toBe(true);
    const next = variant((v) => {
      const common = readFileSync(join(v, 'cql/OpioidCommon-1.0.0.cql'), 'utf8');
      writeFileSync(
        join(v, 'cql/common-next.cql'),
        common.replace("version '1.0.0'", "version '2.0.0'").replace('default 90 days', 'default 365 days'),
      );
      const main = join(v, 'cql/OpioidReview-1.0.0.cql');
      writeFileSync(
        main,
        readFileSync(main, 'utf8').replace(
          "include OpioidCommon version '1.0.0'",
          "include OpioidCommon version '2.0.0'",
        ),
      );
    });
    const k2 = await knowledgeFrom(next, DRAFTS);
    expect((await defineValues(k2, 'naive-low-dose-with-naloxone'))['Is Opioid Naive']).toBe(false);
  });

  it('reports a missing include with the including library, line and the version asked for', async () => {
    const d = variant((v) => {
      const main = join(v, 'cql/OpioidReview-1.0.0.cql');
      writeFileSync(
        main,
        readFileSync(main, 'utf8').replace(
          "include OpioidCommon version '1.0.0'",
          "include OpioidCommon version '3.1.0'",
        ),
      );
    });
    const problems = (await knowledgeFrom(d, DRAFTS)).problems.map(formatProblem);
    expect(problems).toContainEqual(
      expect.stringMatching(/^cql\/OpioidReview-1\.0\.0\.cql:6:\d+: error: .*OpioidCommon, version 3\.1\.0/),
    );
  });

  it('finds a VSAC value set by the bare OID it uses as id, and an OID identifier', () => {
    // Both OpioidCommon value sets are declared as urn:oid: — one resolves through the id, one through identifier.
    expect(knowledge.valueSets['urn:oid:2.16.840.1.113762.1.4.1196.226']).toBeDefined();
    expect(knowledge.valueSets['urn:oid:2.16.840.1.113762.1.4.1125.1']).toBeDefined();
  });
});

describe('cql-execution gaps on the translator ELM', () => {
  afterEach(() => undefined);

  it('evaluates a code declared from a code system of an included library', async () => {
    expect((await defineValues(knowledge, 'naive-low-dose-with-naloxone'))['Has Naloxone']).toBe(true);
    const elm = JSON.parse(JSON.stringify(knowledge.services[0].ruleSet.library!.source)) as {
      library: Record<string, any>;
    };
    const code = elm.library.codes.def.find((c: { name: string }) => c.name === 'Naloxone 4 MG/ACTUAT Nasal Spray');
    expect(code.codeSystem).toEqual(expect.objectContaining({ name: 'Common.RXNORM' }));
    expect(code.codeSystem.libraryName).toBeUndefined();
  });

  it('evaluates a retrieve filtered with plain strings on a non-terminology element', async () => {
    const values = await defineValues(knowledge, 'high-dose-with-benzodiazepine');
    expect(shape(values['Newest Benzodiazepine'], { id: '' })).toEqual({ id: 'alprazolam-active' });
  });

  it('rewrites only what needs rewriting, and says what it changed', () => {
    const retrieve = {
      type: 'Retrieve',
      dataType: '{http://hl7.org/fhir}MedicationRequest',
      codeProperty: 'status',
      codes: {
        type: 'List',
        element: [{ type: 'Literal', valueType: '{urn:hl7-org:elm-types:r1}String', value: 'active' }],
      },
    };
    const untouched = {
      type: 'Retrieve',
      dataType: '{http://hl7.org/fhir}Observation',
      codeProperty: 'code',
      codes: { type: 'ValueSetRef', name: 'X' },
    };
    const elm = {
      library: {
        identifier: { id: 'T', version: '1' },
        statements: {
          def: [
            { name: 'A', expression: retrieve },
            { name: 'B', expression: untouched },
          ],
        },
      },
    };
    const result = normalizeElm(elm, () => undefined);
    const defs = (elm.library.statements.def as Array<{ expression: Record<string, any> }>).map((d) => d.expression);
    expect(defs[0].type).toBe('Query');
    expect(defs[0].where).toEqual({
      type: 'In',
      operand: [{ type: 'Property', path: 'status.value', scope: '$retrieve0' }, retrieve.codes],
    });
    expect(defs[1]).toBe(untouched);
    expect(result.changes).toHaveLength(1);
  });

  it('reports plain-string filters on a coded element as a load error instead of failing at run time', () => {
    const retrieve = {
      type: 'Retrieve',
      locator: '3:1-3:40',
      dataType: '{http://hl7.org/fhir}Condition',
      codeProperty: 'code',
      codes: {
        type: 'List',
        element: [{ type: 'Literal', valueType: '{urn:hl7-org:elm-types:r1}String', value: '44054006' }],
      },
    };
    const elm = {
      library: { identifier: { id: 'T', version: '1' }, statements: { def: [{ name: 'A', expression: retrieve }] } },
    };
    const result = normalizeElm(elm, () => undefined);
    expect(result.problems).toEqual([
      expect.objectContaining({ locator: '3:1-3:40', message: expect.stringContaining('use a Code or a value set') }),
    ]);
  });
});
