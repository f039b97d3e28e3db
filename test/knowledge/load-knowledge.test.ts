import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { formatProblem } from '../../src/knowledge/index.js';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';

/** A copy of the basic test knowledge with some files changed. */
function variant(change: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-knowledge-'));
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  change(dir);
  return dir;
}

function edit(dir: string, file: string, fn: (text: string) => string): void {
  const path = join(dir, file);
  writeFileSync(path, fn(readFileSync(path, 'utf8')));
}

function editJson(dir: string, file: string, fn: (json: any) => void): void {
  edit(dir, file, (text) => {
    const json = JSON.parse(text);
    fn(json);
    return JSON.stringify(json, null, 2);
  });
}

const problemsOf = async (dir: string) => (await knowledgeFrom(dir)).problems.map(formatProblem);

describe('loading knowledge', () => {
  it('loads the basic test knowledge without problems', async () => {
    const knowledge = await knowledgeFrom(testKnowledge('basic'));
    expect(knowledge.problems.map(formatProblem)).toEqual([]);
    expect(knowledge.services.map((s) => s.definition.id)).toEqual(['renal-test', 'greeter']);
  });

  it('reports a CQL compile error with file, line and column, and stops serving only that service', async () => {
    const dir = variant((d) =>
      edit(d, 'cql/RenalTest-1.0.0.cql', (t) => t.replace('exists "Test Drug Drafts"', 'exists "No Such Define"')),
    );
    const knowledge = await knowledgeFrom(dir);
    const problems = knowledge.problems.map(formatProblem);
    expect(problems).toContainEqual(
      expect.stringMatching(/^cql\/RenalTest-1\.0\.0\.cql:26:\d+: error: .*No Such Define/),
    );
    expect(knowledge.services.map((s) => s.definition.id)).toEqual(['greeter']);
    expect(knowledge.unavailable).toEqual([
      { id: 'renal-test', hook: 'order-sign', reasons: [expect.stringContaining('failed to compile')] },
    ]);

    const app = testApp({ knowledge });
    const ready = await request(app).get('/ready').expect(200);
    expect(ready.body.status).toBe('degraded');
    expect(ready.body.knowledge.unavailable[0].id).toBe('renal-test');
    const call = await request(app).post('/cds-services/renal-test').send({}).expect(503);
    expect(call.body.issue[0].diagnostics).toMatch(/knowledge failed to load/);
    const discovery = await request(app).get('/cds-services').expect(200);
    expect(discovery.body.services.map((s: { id: string }) => s.id)).toEqual(['greeter']);
  });

  it('reports a quantity with an invalid UCUM unit at its line', async () => {
    const dir = variant((d) =>
      edit(d, 'cql/RenalTest-1.0.0.cql', (t) => t.replace('Now() - 1 year', "Now() - 1 'parsec-fortnights'")),
    );
    expect(await problemsOf(dir)).toContainEqual(
      expect.stringMatching(/^cql\/RenalTest-1\.0\.0\.cql:18:\d+: error: .*parsec-fortnights/),
    );
  });

  it('compiles quantity literals with UCUM units', async () => {
    const dir = variant((d) =>
      edit(
        d,
        'cql/RenalTest-1.0.0.cql',
        (t) => `${t}\ndefine "Threshold": 30 'mL/min/{1.73_m2}'\ndefine "Window": 90 days\n`,
      ),
    );
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(knowledge.services[0].ruleSet.defines).toEqual(expect.arrayContaining(['Threshold', 'Window']));
  });

  it('refuses a library whose value set is missing instead of matching nothing', async () => {
    const dir = variant((d) => rmSync(join(d, 'cql/valuesets/test-drugs.json')));
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.problems.map(formatProblem)).toContainEqual(
      expect.stringMatching(
        /cql\/RenalTest-1\.0\.0\.cql: error: value set "Test Drugs" \(http:\/\/example\.org\/fhir\/ValueSet\/test-drugs\) is not in cql\/valuesets/,
      ),
    );
    expect(knowledge.unavailable.map((u) => u.id)).toEqual(['renal-test']);
  });

  it('finds value sets by OID as well as by url', async () => {
    const dir = variant((d) =>
      edit(d, 'cql/RenalTest-1.0.0.cql', (t) =>
        t.replace("'http://example.org/fhir/ValueSet/test-drugs'", "'urn:oid:2.16.840.1.999999.1'"),
      ),
    );
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
  });

  it('reports a missing include naming the library and version asked for', async () => {
    const dir = variant((d) =>
      edit(d, 'cql/RenalTest-1.0.0.cql', (t) =>
        t.replace(
          "include FHIRHelpers version '4.0.1'",
          "include FHIRHelpers version '4.0.1'\ninclude Missing version '2.0.0'",
        ),
      ),
    );
    const problems = await problemsOf(dir);
    expect(problems.join('\n')).toMatch(/cql\/RenalTest-1\.0\.0\.cql:6:\d+: error: .*library Missing, version 2\.0\.0/);
  });

  it('reports schema errors in a rule set with their JSON pointer', async () => {
    const dir = variant((d) =>
      editJson(d, 'rules/renal-test/1.0.0.json', (j) => {
        j.rules[0].card.indicator = 'hard-stop';
        delete j.provenance;
      }),
    );
    const problems = await problemsOf(dir);
    expect(problems).toContainEqual(
      'rules/renal-test/1.0.0.json /rules/0/card/indicator: error: must be equal to one of the allowed values: info, warning, critical',
    );
    expect(problems).toContainEqual("rules/renal-test/1.0.0.json /: error: missing required property 'provenance'");
  });

  it('lists a broken condition once per problem, although each shape of condition finds it', async () => {
    const dir = variant((d) =>
      editJson(d, 'rules/greeter/1.0.0.json', (j) => {
        j.rules[0].conditions.all[0] = { fakt: 'user' };
      }),
    );
    const at = 'rules/greeter/1.0.0.json /rules/0/conditions/all/0: error:';
    const problems = (await problemsOf(dir)).filter((p) => p.startsWith(at));
    expect(problems).toContain(`${at} unknown property 'fakt'`);
    expect(problems).toContain(`${at} missing required property 'fact'`);
    expect(problems).toEqual([...new Set(problems)]);
  });

  it('reports a rule that reads a define the library does not have', async () => {
    const dir = variant((d) =>
      editJson(d, 'rules/renal-test/1.0.0.json', (j) => {
        j.rules[0].conditions.all[1].path = "$['Latest eGFR Value'].value";
      }),
    );
    expect(await problemsOf(dir)).toContainEqual(
      `rules/renal-test/1.0.0.json /rules/0/conditions/all/1/path: error: '$['Latest eGFR Value'].value': define "Latest eGFR Value" does not exist in the rule set's CQL library`,
    );
  });

  it('reports unknown facts and template placeholders that cannot be filled', async () => {
    const dir = variant((d) =>
      editJson(d, 'rules/renal-test/1.0.0.json', (j) => {
        j.rules[0].conditions.all[0].fact = 'labs';
        j.rules[0].card.detail = 'eGFR {{cql.Missing}} and {{patient.name}}';
      }),
    );
    const problems = await problemsOf(dir);
    expect(problems).toContainEqual(
      expect.stringMatching(/\/rules\/0\/conditions\/all\/0\/fact: error: unknown fact 'labs'/),
    );
    expect(problems).toContainEqual(
      expect.stringMatching(/\/rules\/0\/card\/detail: error: 'cql.Missing': define "Missing" does not exist/),
    );
    expect(problems).toContainEqual(expect.stringMatching(/\/rules\/0\/card\/detail: error: unknown fact 'patient'/));
  });

  it('requires a rule set file to sit at rules/<id>/<version>.json', async () => {
    const dir = variant((d) =>
      editJson(d, 'rules/renal-test/1.0.0.json', (j) => {
        j.version = '1.0.1';
      }),
    );
    expect(await problemsOf(dir)).toContainEqual(
      "rules/renal-test/1.0.0.json /version: error: version '1.0.1' does not match its file name 1.0.0.json",
    );
  });

  it('reports prefetch tokens the hook does not offer and absolute URLs, and does not serve that service', async () => {
    const dir = variant((d) =>
      editJson(d, 'cds-services.json', (j) => {
        j.services[1].prefetch = {
          a: 'Medication/{{context.medication.id}}',
          b: 'Observation?patient={{context.draftOrders}}',
          c: '{{bogus}}',
          d: 'https://elsewhere.example/Patient/{{context.patientId}}',
          ok: 'Practitioner/{{userPractitionerId}}',
        };
      }),
    );
    const knowledge = await knowledgeFrom(dir);
    const problems = knowledge.problems.map(formatProblem);
    const tokens =
      '{{context.userId}}, {{context.patientId}}, {{context.encounterId}}, {{userPractitionerId}}, {{userPractitionerRoleId}}, {{userPatientId}}, {{userRelatedPersonId}}';
    expect(problems).toEqual([
      `cds-services.json /services/1/prefetch/a: error: service 'greeter', prefetch 'a': {{context.medication.id}} is not a prefetch token of hook 'patient-view' (it has ${tokens})`,
      `cds-services.json /services/1/prefetch/b: error: service 'greeter', prefetch 'b': {{context.draftOrders}} is not a prefetch token of hook 'patient-view' (it has ${tokens})`,
      `cds-services.json /services/1/prefetch/c: error: service 'greeter', prefetch 'c': {{bogus}} is not a prefetch token of hook 'patient-view' (it has ${tokens})`,
      "cds-services.json /services/1/prefetch/d: error: service 'greeter', prefetch 'd': a prefetch template is a FHIR query relative to the FHIR server (e.g. Patient/{{context.patientId}}), not an absolute URL or path",
    ]);
    expect(knowledge.unavailable.map((u) => u.id)).toEqual(['greeter']);
    expect(knowledge.services.map((s) => s.definition.id)).toEqual(['renal-test']);
  });

  it('reports a card source or link URL that is not absolute, at its JSON pointer', async () => {
    const dir = variant((d) =>
      editJson(d, 'rules/renal-test/1.0.0.json', (j) => {
        j.rules[0].card.source.url = '/guidelines/renal';
        j.rules[0].card.links = [
          { label: 'Guideline', url: 'guideline.html', type: 'absolute' },
          { label: 'Prior', url: '{{cql["Latest eGFR"].value}}', type: 'absolute' },
        ];
      }),
    );
    const problems = await problemsOf(dir);
    expect(problems).toEqual(
      expect.arrayContaining([
        'rules/renal-test/1.0.0.json /rules/0/card/source/url: error: must be an absolute http(s) URL, or a placeholder that gives one',
        'rules/renal-test/1.0.0.json /rules/0/card/links/0/url: error: must be an absolute http(s) URL, or a placeholder that gives one',
      ]),
    );
    expect(problems.filter((p) => p.includes('/links/1/'))).toEqual([]);
  });

  it('reports a service whose rule set version does not exist', async () => {
    const dir = variant((d) =>
      editJson(d, 'cds-services.json', (j) => {
        j.services[0].knowledge.version = '9.9.9';
      }),
    );
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.unavailable[0].reasons).toEqual([
      'rule set renal-test@9.9.9 not found (expected rules/renal-test/9.9.9.json)',
    ]);
  });

  it('serves one id for several hooks, and answers 503 for a hook whose knowledge failed while the others serve', async () => {
    const dir = variant((d) =>
      editJson(d, 'cds-services.json', (j) => {
        j.services.push({ ...j.services[1], hook: 'encounter-start' });
        j.services.push({ ...j.services[1], hook: 'order-sign', knowledge: { ruleSet: 'greeter', version: '9.9.9' } });
      }),
    );
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.problems.map(formatProblem)).toEqual([
      "cds-services.json /services/3: error: service 'greeter': rule set greeter@9.9.9 not found (expected rules/greeter/9.9.9.json)",
    ]);
    const app = testApp({ knowledge });
    const call = (hook: string, context: Record<string, unknown>) =>
      request(app)
        .post('/cds-services/greeter')
        .send({ hook, hookInstance: 'c0a8d5b2-1111-4aaa-8bbb-000000000001', context });
    await call('patient-view', { userId: 'Practitioner/1', patientId: 'p1' }).expect(200);
    await call('encounter-start', { userId: 'Practitioner/1', patientId: 'p1', encounterId: 'e1' }).expect(200);
    const res = await call('order-sign', {
      userId: 'Practitioner/1',
      patientId: 'p1',
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [] },
    }).expect(503);
    expect(res.body.issue[0].diagnostics).toBe(
      "service 'greeter' is not available: its knowledge failed to load, or is a draft or retired (see /ready)",
    );
    await call('order-select', {
      userId: 'Practitioner/1',
      patientId: 'p1',
      selections: [],
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [] },
    }).expect(400);
    const duplicate = variant((d) => editJson(d, 'cds-services.json', (j) => j.services.push({ ...j.services[1] })));
    expect((await knowledgeFrom(duplicate)).problems.map(formatProblem)).toContain(
      "cds-services.json /services/2: error: service 'greeter': service 'greeter' is defined twice for hook 'patient-view'",
    );
  });

  it('reports a parameter binding to a parameter the library does not declare', async () => {
    const dir = variant((d) =>
      editJson(d, 'cds-services.json', (j) => {
        j.services[0].knowledge.parameters = { Drafts: 'draftOrders:MedicationRequest', Orders: 'draftOrders' };
      }),
    );
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.unavailable[0].reasons).toEqual([
      'knowledge.parameters.Orders: library RenalTest 1.0.0 declares no parameter "Orders"',
    ]);
  });

  it('reports a service for a hook the server does not support', async () => {
    const dir = variant((d) =>
      editJson(d, 'cds-services.json', (j) => {
        j.services[1].hook = 'medication-prescribe';
      }),
    );
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.unavailable).toEqual([
      {
        id: 'greeter',
        hook: 'medication-prescribe',
        reasons: ["hook 'medication-prescribe' is not one this server supports"],
      },
    ]);
  });

  it('reports invalid JSON with line and column', async () => {
    const dir = variant((d) =>
      edit(d, 'rules/greeter/1.0.0.json', (t) => t.replace('"status": "active",', '"status": "active"')),
    );
    expect((await problemsOf(dir)).join('\n')).toMatch(/^rules\/greeter\/1\.0\.0\.json:5:\d+: error: invalid JSON/m);
  });

  it('accepts precompiled ELM JSON next to CQL sources', async () => {
    const compiled = await knowledgeFrom(testKnowledge('basic'));
    const elm = (compiled.services[0].ruleSet.library as unknown as { source: unknown }).source;
    const dir = variant((d) => {
      rmSync(join(d, 'cql/RenalTest-1.0.0.cql'));
      writeFileSync(join(d, 'cql/RenalTest-1.0.0.json'), JSON.stringify(elm));
    });
    const knowledge = await knowledgeFrom(dir);
    expect(knowledge.problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
    expect(knowledge.services.map((s) => s.definition.id)).toEqual(['renal-test', 'greeter']);
  });
});
