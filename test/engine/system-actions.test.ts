// systemActions from rule sets: rendered from a rule's templates like its card, checked against the
// CDS Hooks 2.0.1 Action rules, returned beside the cards (absent when there are none), recorded in the
// ledger with their disposition and counted in the report.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { knowledgeFrom, repoRoot, testApp, testKnowledge } from '../support/app.js';
import { medicationRequest } from '../support/requests.js';
import { testUptakeStore, type TestStore } from '../uptake/support.js';
import { KNOWLEDGE_EXTENSION, systemActionProblems, type Action } from '../../src/cards/index.js';
import { invokeService, primaryEvaluation } from '../../src/engine/index.js';
import { loadKnowledge, type Knowledge } from '../../src/knowledge/index.js';
import { parseReportQuery } from '../../src/uptake/index.js';
import { ledgerEntry } from '../../src/uptake/ledger-entry.js';
import { sharedTranslator } from '../support/app.js';
import { mkdtempSync, cpSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const NOW = '2026-06-01T12:00:00Z';

const orderSign = (drafts = [medicationRequest('d1', '5640', 'Ibuprofen 400 mg')]) => ({
  hook: 'order-sign',
  hookInstance: randomUUID(),
  context: {
    userId: 'Practitioner/abc',
    patientId: 'p1',
    draftOrders: { resourceType: 'Bundle', type: 'collection', entry: drafts.map((resource) => ({ resource })) },
  },
});

describe('the CDS Hooks 2.0.1 rules for a system action', () => {
  it('accepts a create with a resource and a delete with a Type/id resourceId', () => {
    expect(
      systemActionProblems(
        { type: 'create', description: 'x', resource: { resourceType: 'Task', status: 'draft' } },
        'a',
      ),
    ).toEqual([]);
    expect(systemActionProblems({ type: 'delete', description: 'x', resourceId: 'Task/t-1' }, 'a')).toEqual([]);
  });

  it.each([
    [{ type: 'create', description: 'x' }, /needs a resource/],
    [{ type: 'update', description: 'x', resource: { status: 'draft' } }, /needs a resource with a resourceType/],
    [{ type: 'delete', description: 'x' }, /needs a resourceId/],
    [{ type: 'delete', description: 'x', resourceId: 'not a reference' }, /resourceId of the form Type\/id/],
    [{ type: 'delete', description: 'x', resourceId: 'Task/1', resource: 'Task/1' }, /deprecated/],
    [{ type: 'create', description: 'x', resource: { resourceType: 'Task' }, uuid: 'u' }, /has a uuid/],
    [{ type: 'create', resource: { resourceType: 'Task' } }, /description is required/],
    [{ type: 'replace', description: 'x' }, /not create, update or delete/],
    [{ type: 'create', description: 'x', resource: { resourceType: 'Task' }, resourceId: '' }, /empty/],
  ])('rejects %j', (action, message) => {
    expect(systemActionProblems(action as unknown as Action, 'systemActions[0]').join('; ')).toMatch(message);
  });
});

describe('systemActions over HTTP', () => {
  let knowledge: Knowledge;
  let store: TestStore;
  let app: Express;
  beforeAll(async () => {
    knowledge = await knowledgeFrom(testKnowledge('system-actions'));
    store = await testUptakeStore('sqlite');
    app = testApp({ knowledge, now: NOW, deps: { uptake: store.store } });
  }, 60_000);
  afterAll(async () => {
    await store.cleanup();
  });

  it('loads the rule set with its system action templates', () => {
    expect(knowledge.problems.filter((p) => p.severity === 'error')).toEqual([]);
  });

  it('returns each fired rule’s rendered system actions beside the cards, without uuids', async () => {
    const res = await request(app)
      .post('/cds-services/draft-review')
      .send(orderSign([medicationRequest('d1', '5640', 'Ibuprofen'), medicationRequest('d2', '161', 'Paracetamol')]))
      .expect(200);
    expect(res.body.cards).toHaveLength(3);
    const actions = res.body.systemActions as Action[];
    expect(actions.map((a) => [a.type, a.description])).toEqual([
      ['create', 'Record that d1 was reviewed'],
      ['update', 'Keep the draft as it is'],
      ['delete', 'Remove the reviewed draft'],
      ['create', 'Record that d2 was reviewed'],
      ['update', 'Keep the draft as it is'],
      ['delete', 'Remove the reviewed draft'],
    ]);
    expect(actions[0].resource).toEqual({
      resourceType: 'Communication',
      status: 'completed',
      subject: { reference: 'Patient/p1' },
      about: [{ reference: 'MedicationRequest/d1' }],
    });
    // A solo placeholder gives the whole draft, as a resource.
    expect((actions[4].resource as { id: string }).id).toBe('d2');
    expect(actions[5].resourceId).toBe('MedicationRequest/d2');
    for (const a of actions) expect(a).not.toHaveProperty('uuid');
    // The broken rule's action renders to "Practitioner/abc and more": not returned, its card still is.
    expect(actions.some((a) => a.description === 'Not a relative reference')).toBe(false);
  });

  it('leaves systemActions out when none renders, and still serves the card', async () => {
    // No draft: each-draft makes nothing; broken-action's card is served, its invalid action is not.
    const res = await request(app).post('/cds-services/draft-review').send(orderSign([])).expect(200);
    expect(res.body.cards.map((c: { summary: string }) => c.summary)).toEqual([
      'A card whose system action renders to an invalid one',
    ]);
    expect(res.body).not.toHaveProperty('systemActions');
  });

  it('records the system actions in the ledger and counts the returned ones in the report', async () => {
    const before = (await store.store.report(parseReportQuery({ groupBy: 'rule' }))).rows;
    const count = (rows: typeof before, rule: string) =>
      rows.find((r) => r.group.rule === rule)?.systemActionsReturned ?? 0;
    await request(app).post('/cds-services/draft-review').send(orderSign()).expect(200);
    await store.store.flush();
    const rows = await store.store.database
      .selectFrom('uptake_system_action')
      .selectAll()
      .where('rule', '=', 'each-draft')
      .execute();
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows.every((r) => r.disposition === 'shown' && r.rule_set === 'draft-review')).toBe(true);
    expect(new Set(rows.map((r) => r.resource_type))).toEqual(new Set(['Communication', 'MedicationRequest']));
    expect(JSON.stringify(rows)).not.toContain('"p1"');
    const after = (await store.store.report(parseReportQuery({ groupBy: 'rule' }))).rows;
    expect(count(after, 'each-draft') - count(before, 'each-draft')).toBe(3);
    expect(count(after, 'broken-action')).toBe(0);
  });
});

describe('system actions in the ledger', () => {
  it('keeps the disposition and arm of the evaluation that produced them, and no resource', () => {
    const entry = ledgerEntry(
      {
        serviceId: 's',
        hook: 'order-sign',
        startedAt: new Date(NOW),
        durationMs: 5,
        status: 200,
        context: { patientId: 'p1' },
        evaluations: [
          {
            disposition: 'suppressed',
            ruleSet: 'r',
            version: '1.0.0',
            cql: [],
            experiment: { id: 'e', arm: 'control' },
            status: 'ok',
            cards: [],
            systemActions: [
              { rule: 'x', action: { type: 'delete', resourceId: 'MedicationRequest/m-1' } },
              { rule: 'x', action: { type: 'create', resource: { resourceType: 'Task', note: 'secret' } } },
            ],
          },
        ],
      },
      (_kind: string, id: unknown) => (typeof id === 'string' ? `h-${id.length}` : null),
    );
    expect(entry.systemActions?.map((a) => [a.disposition, a.arm, a.experiment_id, a.action, a.resource_type])).toEqual(
      [
        ['suppressed', 'control', 'e', 'delete', 'MedicationRequest'],
        ['suppressed', 'control', 'e', 'create', 'Task'],
      ],
    );
    expect(JSON.stringify(entry.systemActions)).not.toMatch(/secret|m-1/);
  });
});

describe('the shipped example: naloxone proposed as a system action', () => {
  let knowledge: Knowledge;
  beforeAll(async () => {
    knowledge = await knowledgeFrom(repoRoot, { serveDrafts: true });
  }, 60_000);

  const evaluateVersion = async (version: string) => {
    const ruleSet = knowledge.ruleSets!.find((r) => r.id === 'opioid-benzo' && r.version === version)!;
    const services = knowledge.services.map((s) =>
      s.definition.id === 'opioid-benzo' ? { definition: s.definition, ruleSet } : s,
    );
    const body = JSON.parse(
      readFileSync(join(repoRoot, 'fixtures/requests/opioid-benzo/lorazepam-with-active-hydrocodone.json'), 'utf8'),
    ) as Record<string, unknown>;
    const { outcome } = await invokeService({ ...knowledge, services }, 'opioid-benzo', body, {
      clock: () => new Date(NOW),
      prefetch: { timeoutMs: 3000, maxPages: 10 },
    });
    return primaryEvaluation(outcome);
  };

  it('is a draft, never served by default, and says why in its provenance', () => {
    const draft = knowledge.ruleSets!.find((r) => r.id === 'opioid-benzo' && r.version === '1.1.0')!;
    expect(draft.status).toBe('draft');
    expect(draft.provenance.summary).toMatch(/prescriber/);
    const live = knowledge.services.find((s) => s.definition.id === 'opioid-benzo')!;
    expect(live.ruleSet.version).toBe('1.0.0');
    expect(live.ruleSet.rules.some((r) => r.systemActions)).toBe(false);
  });

  it('proposes a naloxone MedicationRequest for the patient when a benzodiazepine meets an opioid', async () => {
    const evaluation = await evaluateVersion('1.1.0');
    expect(evaluation.trace.problems).toEqual([]);
    expect(evaluation.cards).toHaveLength(1);
    expect(evaluation.systemActions).toHaveLength(1);
    const [{ action, rule }] = evaluation.systemActions;
    expect(rule).toBe('benzodiazepine-draft-active-opioid');
    expect(systemActionProblems(action, 'a')).toEqual([]);
    const resource = action.resource as Record<string, any>;
    expect(resource).toMatchObject({ resourceType: 'MedicationRequest', status: 'draft', intent: 'proposal' });
    expect(JSON.stringify(resource.medicationCodeableConcept)).toMatch(/naloxone/i);
    expect(resource.subject.reference).toMatch(/^Patient\/\S+$/);
    expect(action.description).toMatch(/Lorazepam/);
    expect((await evaluateVersion('1.0.0')).systemActions).toEqual([]);
  });
});

describe('system action templates at load', () => {
  it.each([
    [[{ type: 'delete', description: 'no id' }], /systemActions\/0 .*resourceId/],
    [[{ type: 'create', description: 'Uses {{nothing.here}}', resource: { resourceType: 'Task' } }], /nothing/],
    [[{ type: 'update', description: 'x', resource: 'Task/1' }], /systemActions\/0\/resource/],
  ])('reports %j with its place', async (systemActions, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-sa-'));
    try {
      cpSync(testKnowledge('system-actions'), dir, { recursive: true });
      const file = join(dir, 'rules/draft-review/1.0.0.json');
      const ruleSet = JSON.parse(readFileSync(file, 'utf8'));
      ruleSet.rules[0].systemActions = systemActions;
      writeFileSync(file, JSON.stringify(ruleSet));
      const loaded = await loadKnowledge(dir, { translator: await sharedTranslator() });
      const messages = loaded.problems.map((p) => `${p.pointer ?? ''} ${p.message}`).join('\n');
      expect(messages).toMatch(message);
      expect(loaded.services.map((s) => s.definition.id)).not.toContain('draft-review');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('card extension from templates', () => {
  const withExtension = async (extension: unknown) => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-ext-'));
    try {
      cpSync(testKnowledge('system-actions'), dir, { recursive: true });
      const file = join(dir, 'rules/draft-review/1.0.0.json');
      const ruleSet = JSON.parse(readFileSync(file, 'utf8'));
      ruleSet.rules[0].card.extension = extension;
      delete ruleSet.rules[0].systemActions;
      ruleSet.rules.splice(1, 1);
      writeFileSync(file, JSON.stringify(ruleSet));
      return await loadKnowledge(dir, { translator: await sharedTranslator() });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('fills placeholders in the template extension and keeps the engine provenance beside it', async () => {
    const knowledge = await withExtension({
      'org.example.grade': { grade: 'B', draft: '{{item.id}}', order: '{{item}}' },
      'org.example.hook': '{{hook}}',
    });
    expect(knowledge.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const app = testApp({ knowledge, now: NOW });
    const res = await request(app).post('/cds-services/draft-review').send(orderSign()).expect(200);
    const [card] = res.body.cards;
    expect(card.extension['org.example.grade']).toMatchObject({ grade: 'B', draft: 'd1', order: { id: 'd1' } });
    expect(card.extension['org.example.hook']).toBe('order-sign');
    expect(card.extension[KNOWLEDGE_EXTENSION]).toMatchObject({ ruleSet: 'draft-review', rule: 'each-draft' });
  });

  it.each([
    [{ [KNOWLEDGE_EXTENSION]: { rule: 'forged' } }, /propertyName|must NOT be valid|must not/i],
    [['not', 'an', 'object'], /must be object/],
    [{}, /fewer than 1|must NOT have fewer/],
  ])('rejects the extension %j at load', async (extension, message) => {
    const knowledge = await withExtension(extension);
    expect(knowledge.problems.map((p) => `${p.pointer ?? ''} ${p.message}`).join('\n')).toMatch(message);
    expect(knowledge.services.map((s) => s.definition.id)).not.toContain('draft-review');
  });

  it('does not serve a card whose extension value has no value to fill it', async () => {
    const knowledge = await withExtension({ 'org.example.x': '{{item.note}}' });
    const app = testApp({ knowledge, now: NOW });
    const res = await request(app).post('/cds-services/draft-review').send(orderSign()).expect(200);
    expect(res.body.cards).toEqual([]);
  });

  it('gives the shipped draft’s cards the CDC recommendation and evidence beside the provenance', async () => {
    const knowledge = await knowledgeFrom(repoRoot, { serveDrafts: true });
    const ruleSet = knowledge.ruleSets!.find((r) => r.id === 'opioid-benzo' && r.version === '1.1.0')!;
    const services = knowledge.services.map((s) =>
      s.definition.id === 'opioid-benzo' ? { definition: s.definition, ruleSet } : s,
    );
    const body = JSON.parse(
      readFileSync(join(repoRoot, 'fixtures/requests/opioid-benzo/lorazepam-with-active-hydrocodone.json'), 'utf8'),
    ) as Record<string, unknown>;
    const { outcome } = await invokeService({ ...knowledge, services }, 'opioid-benzo', body, {
      clock: () => new Date(NOW),
      prefetch: { timeoutMs: 3000, maxPages: 10 },
    });
    const [card] = primaryEvaluation(outcome).cards;
    expect(card.extension!['org.cdc.opioid-guideline-2022']).toMatchObject({
      recommendation: 11,
      recommendationCategory: 'B',
      evidenceType: 3,
    });
    // A value that is one placeholder keeps the CQL value as it is (here the list of active opioid names).
    expect(JSON.stringify(card.extension!['org.cdc.opioid-guideline-2022'])).toMatch(/hydrocodone/i);
    expect(card.extension![KNOWLEDGE_EXTENSION]).toMatchObject({ ruleSet: 'opioid-benzo', version: '1.1.0' });
  }, 60_000);
});

describe('cds eval with system actions', () => {
  it('prints the system actions beside the cards, and gives them in --json', async () => {
    const { runCli } = await import('../../src/cli/program.js');
    const file = join(mkdtempSync(join(tmpdir(), 'cds-sa-eval-')), 'request.json');
    writeFileSync(file, JSON.stringify(orderSign()));
    const run = async (...args: string[]) => {
      let out = '';
      const code = await runCli(['eval', '--service', 'draft-review', '--request', file, ...args], {
        io: { stdout: (t) => (out += t), stderr: () => undefined },
        env: { CDS_AUTH: 'off', CDS_LOG_LEVEL: 'error', CDS_KNOWLEDGE_DIR: testKnowledge('system-actions') },
      });
      return { code, out };
    };
    const text = await run();
    // The broken rule's action is a knowledge problem: eval says so with exit 1, and shows the rest.
    expect(text.code).toBe(1);
    expect(text.out).toContain('system actions (3)');
    expect(text.out).toContain('  delete MedicationRequest/d1: Remove the reviewed draft');
    const json = JSON.parse((await run('--json')).out) as { systemActions: Action[] };
    expect(json.systemActions.map((a) => a.type)).toEqual(['create', 'update', 'delete']);
  }, 60_000);
});
