// A service's rollout in cds-services.json: checked at load with each problem at its JSON pointer
// (the service is then unavailable, the others serve), and resolved into the versions it evaluates.
import { describe, expect, it, vi } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import request from 'supertest';
import {
  experimentFingerprintKey,
  formatProblem,
  withStatus,
  type Knowledge,
  type ServedFingerprints,
} from '../../src/knowledge/index.js';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { testUptakeStore } from '../uptake/support.js';

const EXPERIMENT = {
  id: 'greeting-wording-2027',
  unit: 'practitioner',
  arms: [
    { name: 'usual', version: '1.0.0', weight: 2 },
    { name: 'new-wording', version: '1.2.0', weight: 1 },
    { name: 'no-card', version: '1.1.0', weight: 1, show: false },
  ],
  start: '2027-01-04T00:00:00Z',
  end: '2027-03-01T00:00:00Z',
};

/**
 * The basic test knowledge with more greeter versions: 1.1.0 draft, 1.2.0 active, 0.9.0 retired,
 * 1.3.0 broken; and renal-test 1.1.0, whose library declares no "Drafts" parameter.
 */
function knowledgeDir(rollout: Record<string, unknown>, more: (catalogue: any) => void = () => undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'cds-rollout-'));
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  const greeter = readFileSync(join(dir, 'rules/greeter/1.0.0.json'), 'utf8');
  const greeterAt = (version: string, status: 'draft' | 'active' | 'retired') =>
    writeFileSync(
      join(dir, `rules/greeter/${version}.json`),
      withStatus(greeter.replace('"1.0.0"', `"${version}"`), status),
    );
  greeterAt('1.1.0', 'draft');
  greeterAt('1.2.0', 'active');
  greeterAt('0.9.0', 'retired');
  writeFileSync(
    join(dir, 'rules/greeter/1.3.0.json'),
    greeter.replace('"1.0.0"', '"1.3.0"').replace('"title": "Greeter",', ''),
  );
  const cql = readFileSync(join(dir, 'cql/RenalTest-1.0.0.cql'), 'utf8');
  writeFileSync(
    join(dir, 'cql/RenalTest-1.1.0.cql'),
    cql.replace("version '1.0.0'", "version '1.1.0'").replaceAll('"Drafts"', '"Orders"'),
  );
  const renal = readFileSync(join(dir, 'rules/renal-test/1.0.0.json'), 'utf8');
  writeFileSync(join(dir, 'rules/renal-test/1.1.0.json'), withStatus(renal.replaceAll('"1.0.0"', '"1.1.0"'), 'draft'));
  const file = join(dir, 'cds-services.json');
  const catalogue = JSON.parse(readFileSync(file, 'utf8'));
  catalogue.services[1].rollout = rollout;
  more(catalogue);
  writeFileSync(file, JSON.stringify(catalogue, null, 2));
  return dir;
}

// Problems apart from those of the broken greeter 1.3.0 itself, which every directory here has.
const problemsOf = (k: Knowledge) => k.problems.filter((p) => p.file !== 'rules/greeter/1.3.0.json').map(formatProblem);
const served = (k: Knowledge) => k.services.map((s) => s.definition.id);
const experimentWith = (change: (e: any) => void) => {
  const e = structuredClone(EXPERIMENT);
  change(e);
  return e;
};

describe('a service rollout', () => {
  it('resolves shadow versions and the experiment, with the hash of its unit and arms', async () => {
    const knowledge = await knowledgeFrom(
      knowledgeDir({
        shadow: [{ version: '1.1.0' }],
        experiment: EXPERIMENT,
        releaseAfter: { shadowDays: 14, shadowCalls: 1000 },
      }),
    );
    expect(problemsOf(knowledge)).toEqual([]);
    const greeter = knowledge.services.find((s) => s.definition.id === 'greeter')!;
    expect(greeter.ruleSet.version).toBe('1.0.0');
    const rollout = greeter.rollout!;
    expect(rollout.shadows.map((r) => `${r.id}@${r.version} ${r.status}`)).toEqual(['greeter@1.1.0 draft']);
    expect(rollout.releaseAfter).toEqual({ shadowDays: 14, shadowCalls: 1000 });
    const experiment = rollout.experiment!;
    expect(experiment.arms.map((a) => [a.name, a.weight, a.show, a.ruleSet.version])).toEqual([
      ['usual', 2, true, '1.0.0'],
      ['new-wording', 1, true, '1.2.0'],
      ['no-card', 1, false, '1.1.0'],
    ]);
    expect(experiment.arms[0].ruleSet).toBe(greeter.ruleSet);
    expect(experiment).toMatchObject({
      id: 'greeting-wording-2027',
      unit: 'practitioner',
      start: new Date('2027-01-04T00:00:00Z'),
      end: new Date('2027-03-01T00:00:00Z'),
    });
    // sha256 of the canonical JSON (keys sorted) of unit and arms, show made explicit.
    const canonical =
      '{"arms":[{"name":"usual","show":true,"version":"1.0.0","weight":2},{"name":"new-wording","show":true,"version":"1.2.0","weight":1},' +
      '{"name":"no-card","show":false,"version":"1.1.0","weight":1}],"unit":"practitioner"}';
    expect(experiment.hash).toBe(createHash('sha256').update(canonical).digest('hex'));
    expect(knowledge.services.find((s) => s.definition.id === 'renal-test')?.rollout).toBeUndefined();
    // Discovery shows only what an EHR is served: the live version.
    const discovery = await request(testApp({ knowledge })).get('/cds-services').expect(200);
    const listed = discovery.body.services.find((s: { id: string }) => s.id === 'greeter');
    expect(Object.values(listed.extension)[0]).toMatchObject({ version: '1.0.0', status: 'active' });
  });

  it('reports schema errors of a rollout at their pointers and makes only that service unavailable', async () => {
    const knowledge = await knowledgeFrom(
      knowledgeDir({
        shadow: [{ version: 'latest' }],
        experiment: experimentWith((e) => {
          e.unit = 'ward';
          e.arms[0].weight = 0;
          e.arms[1].weight = -1;
          delete e.arms[2].version;
          e.start = '4 January 2027';
        }),
        releaseAfter: { shadowCalls: 1.5 },
      }),
    );
    expect(knowledge.fatal).toBeUndefined();
    expect(served(knowledge)).toEqual(['renal-test']);
    expect(problemsOf(knowledge)).toEqual([
      "cds-services.json /services/1/rollout/shadow/0/version: error: service 'greeter': must be a version such as 1.2.0 (rules/<ruleSet>/<version>.json)",
      "cds-services.json /services/1/rollout/experiment/unit: error: service 'greeter': must be equal to one of the allowed values: patient, practitioner, encounter, client",
      "cds-services.json /services/1/rollout/experiment/arms/0/weight: error: service 'greeter': must be > 0",
      "cds-services.json /services/1/rollout/experiment/arms/1/weight: error: service 'greeter': must be > 0",
      "cds-services.json /services/1/rollout/experiment/arms/2: error: service 'greeter': missing required property 'version': an arm with show: false is still evaluated (its cards are recorded, never sent)",
      "cds-services.json /services/1/rollout/experiment/start: error: service 'greeter': must be a date-time",
      "cds-services.json /services/1/rollout/releaseAfter/shadowCalls: error: service 'greeter': must be integer",
    ]);
    expect(knowledge.unavailable[0].reasons).toContain('rollout/experiment/arms/0/weight: must be > 0');
  });

  it('takes one experiment per service: an array of experiments is refused', async () => {
    const knowledge = await knowledgeFrom(knowledgeDir({ experiment: [EXPERIMENT, { ...EXPERIMENT, id: 'another' }] }));
    expect(problemsOf(knowledge)).toEqual([
      "cds-services.json /services/1/rollout/experiment: error: service 'greeter': must be one object: a service runs one experiment at a time",
    ]);
    expect(served(knowledge)).toEqual(['renal-test']);
  });

  it('checks versions, arm names, dates and the lifecycle of every shadow and arm', async () => {
    const knowledge = await knowledgeFrom(
      knowledgeDir({
        shadow: [
          { version: '1.0.0' },
          { version: '2.0.0' },
          { version: '1.1.0' },
          { version: '1.1.0' },
          { version: '0.9.0' },
          { version: '1.3.0' },
        ],
        experiment: experimentWith((e) => {
          e.arms[1].name = 'usual';
          e.arms[1].version = '1.1.0';
          e.arms[2].version = '0.9.0';
          e.end = '2027-01-04T00:00:00Z';
        }),
      }),
    );
    expect(served(knowledge)).toEqual(['renal-test']);
    const rolloutProblems = problemsOf(knowledge).filter((p) => p.startsWith('cds-services.json'));
    expect(rolloutProblems).toEqual([
      "cds-services.json /services/1/rollout/shadow/0/version: error: service 'greeter': shadow version 1.0.0 is the live version (knowledge.version): a shadow is a version not shown",
      "cds-services.json /services/1/rollout/shadow/1/version: error: service 'greeter': shadow version 2.0.0: rule set greeter@2.0.0 not found (expected rules/greeter/2.0.0.json)",
      "cds-services.json /services/1/rollout/shadow/3/version: error: service 'greeter': shadow version 1.1.0 is listed twice",
      "cds-services.json /services/1/rollout/shadow/4/version: error: service 'greeter': shadow version 0.9.0: rule set greeter@0.9.0 is retired: a retired version is never evaluated",
      "cds-services.json /services/1/rollout/shadow/5/version: error: service 'greeter': shadow version 1.3.0: rule set greeter@1.3.0 has errors and cannot be evaluated (1 problem)",
      "cds-services.json /services/1/rollout/experiment/arms/1/name: error: service 'greeter': experiment arm name 'usual' is used twice",
      "cds-services.json /services/1/rollout/experiment/arms/1/version: error: service 'greeter': experiment arm 'usual': rule set greeter@1.1.0 is a draft, and a shown arm is served to EHRs: release it (cds release), or give the arm show: false (drafts are shown only with CDS_SERVE_DRAFTS=on)",
      "cds-services.json /services/1/rollout/experiment/arms/2/version: error: service 'greeter': experiment arm 'no-card': rule set greeter@0.9.0 is retired: a retired version is never evaluated",
      "cds-services.json /services/1/rollout/experiment/end: error: service 'greeter': experiment end (2027-01-04T00:00:00Z) must be after its start (2027-01-04T00:00:00Z)",
    ]);
    expect(knowledge.unavailable.find((u) => u.id === 'greeter')?.reasons).toHaveLength(rolloutProblems.length);
  });

  it('shows a draft arm only when drafts are served', async () => {
    const dir = knowledgeDir({ experiment: experimentWith((e) => (e.arms[1].version = '1.1.0')) });
    expect(served(await knowledgeFrom(dir))).toEqual(['renal-test']);
    const drafts = await knowledgeFrom(dir, { serveDrafts: true });
    expect(problemsOf(drafts)).toEqual([]);
    expect(served(drafts)).toEqual(['renal-test', 'greeter']);
  });

  it("binds the service's parameters for every shadow and arm version too", async () => {
    const knowledge = await knowledgeFrom(
      knowledgeDir({}, (c) => (c.services[0].rollout = { shadow: [{ version: '1.1.0' }] })),
    );
    expect(problemsOf(knowledge)).toEqual([
      'cds-services.json /services/0/rollout/shadow/0/version: error: service \'renal-test\': shadow version 1.1.0: knowledge.parameters.Drafts: library RenalTest 1.1.0 declares no parameter "Drafts"',
      // …and the parameter it does declare then has no value.
      'cds-services.json /services/0/rollout/shadow/0/version: error: service \'renal-test\': shadow version 1.1.0: cql/RenalTest-1.1.0.cql:10: library RenalTest 1.1.0 declares parameter "Orders" List<FHIR.MedicationRequest> without a default, and knowledge.parameters gives it no value',
    ]);
    expect(served(knowledge)).toEqual(['greeter']);
  });

  it('lets two services share an experiment id only when they declare it identically', async () => {
    const second = (c: any, experiment: unknown) =>
      c.services.push({ ...c.services[1], hook: 'encounter-start', rollout: { experiment } });
    const same = await knowledgeFrom(knowledgeDir({ experiment: EXPERIMENT }, (c) => second(c, EXPERIMENT)));
    expect(problemsOf(same)).toEqual([]);
    const [a, b] = same.services.filter((s) => s.definition.id === 'greeter').map((s) => s.rollout!.experiment!.hash);
    expect(a).toBe(b);

    const other = await knowledgeFrom(
      knowledgeDir({ experiment: EXPERIMENT }, (c) =>
        second(
          c,
          experimentWith((e) => (e.end = '2027-04-01T00:00:00Z')),
        ),
      ),
    );
    expect(problemsOf(other)).toEqual([
      "cds-services.json /services/2/rollout/experiment/id: error: service 'greeter': experiment 'greeting-wording-2027' is also declared by service 'greeter' with another unit, arms, start or end: services share an experiment only when they declare it identically (or use another experiment id)",
    ]);
    expect(other.services.map((s) => `${s.definition.id} ${s.definition.hook}`)).toEqual([
      'renal-test order-sign',
      'greeter patient-view',
    ]);
  });

  it('refuses an experiment whose arms or weights changed after it assigned calls, and keeps one that did not change', async () => {
    const started = await knowledgeFrom(knowledgeDir({ experiment: EXPERIMENT }));
    const hash = started.services.find((s) => s.definition.id === 'greeter')!.rollout!.experiment!.hash;
    // As the serving side records it when the experiment first assigns a call: through the uptake store.
    const ledger = await testUptakeStore('sqlite', { clock: () => new Date('2027-01-05T08:00:00Z') });
    let fingerprints: ServedFingerprints;
    try {
      ledger.store.recordServed([{ kind: 'experiment', name: EXPERIMENT.id, version: 'arms', hash }]);
      await vi.waitFor(async () =>
        expect((await ledger.store.servedFingerprints()).has(experimentFingerprintKey(EXPERIMENT.id))).toBe(true),
      );
      fingerprints = await ledger.store.servedFingerprints();
    } finally {
      await ledger.cleanup();
    }
    expect([...fingerprints.keys()]).toEqual(['experiment:greeting-wording-2027@arms']);

    // The end date may move; the unit, arms and weights may not.
    const later = await knowledgeFrom(
      knowledgeDir({ experiment: experimentWith((e) => (e.end = '2027-04-01T00:00:00Z')) }),
      { served: fingerprints },
    );
    expect(problemsOf(later)).toEqual([]);
    const reweighted = await knowledgeFrom(
      knowledgeDir({ experiment: experimentWith((e) => (e.arms[0].weight = 1)) }),
      { served: fingerprints },
    );
    expect(problemsOf(reweighted)).toEqual([
      "cds-services.json /services/1/rollout/experiment: error: service 'greeter': experiment 'greeting-wording-2027' has started (it first assigned a call 2027-01-05T08:00:00.000Z) and its unit, arms or weights have changed since: an experiment never changes once it has assigned calls; restore it, or make a new experiment id",
    ]);
    expect(served(reweighted)).toEqual(['renal-test']);
    const renamed = await knowledgeFrom(
      knowledgeDir({
        experiment: experimentWith((e) => {
          e.id = 'greeting-wording-2027b';
          e.arms[0].weight = 1;
        }),
      }),
      { served: fingerprints },
    );
    expect(problemsOf(renamed)).toEqual([]);
  });

  it('keeps an unknown property of a rollout a schema error of that service only', async () => {
    const knowledge = await knowledgeFrom(knowledgeDir({ shadows: [{ version: '1.1.0' }] }));
    expect(problemsOf(knowledge)).toEqual([
      "cds-services.json /services/1/rollout: error: service 'greeter': unknown property 'shadows'",
    ]);
    expect(served(knowledge)).toEqual(['renal-test']);
  });
});
