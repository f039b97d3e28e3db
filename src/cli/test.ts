// cds test [rule-set[@version]]: runs the test cases of each rule set — the example requests of the
// services that serve it live (fixtures/requests/<service-id>/<case>.json with <case>.expected.json)
// and the cases listed in the rule set's own "tests" — and prints pass / fail with a readable diff.
// Shadow and experiment versions are tested too, each on its own rule set version.
import { asOfTime } from './as-of.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { invokeService, primaryEvaluation } from '../engine/index.js';
import { formatProblem, type Knowledge, type RuleSet, type Service } from '../knowledge/index.js';
import type { CliIo } from './io.js';
import { knowledgeDir, loadFrom } from './knowledge.js';

export interface ExpectedCard {
  rule: string;
  indicator?: string;
  summary?: string;
}

export interface TestCase {
  name: string;
  service: string;
  requestFile: string;
  asOf?: string;
  expect: ExpectedCard[];
}

export interface TestOutcome {
  ruleSet: string;
  testCase: TestCase;
  passed: boolean;
  diff: string[];
}

/** The rule set versions a service evaluates: its live version, its shadow versions, its experiment's arms. */
export function versionsOf(service: Service): RuleSet[] {
  const rollout = service.rollout;
  const arms = rollout?.experiment?.arms.map((a) => a.ruleSet) ?? [];
  return [...new Set([service.ruleSet, ...(rollout?.shadows ?? []), ...arms])];
}

/**
 * The test cases of one rule set version, found beside the knowledge: the example requests of the
 * services it is live in (their expected cards are the live version's), and its own tests, whose
 * service is by default the first that evaluates the version.
 */
export function testCasesFor(knowledge: Knowledge, ruleSet: RuleSet): TestCase[] {
  const cases: TestCase[] = [];
  const live = knowledge.services.filter((s) => s.ruleSet === ruleSet).map((s) => s.definition.id);
  const evaluating = knowledge.services.filter((s) => versionsOf(s).includes(ruleSet)).map((s) => s.definition.id);
  const services = [...live, ...evaluating];
  for (const service of [...new Set(live)]) {
    const dir = join(knowledge.dir, 'fixtures', 'requests', service);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).sort()) {
      if (!file.endsWith('.expected.json')) continue;
      const requestFile = join(dir, file.replace(/\.expected\.json$/, '.json'));
      const expected = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { asOf?: string; cards: ExpectedCard[] };
      cases.push({
        name: `${service}/${file.replace(/\.expected\.json$/, '')}`,
        service,
        requestFile,
        asOf: expected.asOf,
        expect: expected.cards,
      });
    }
  }
  for (const [i, raw] of (ruleSet.tests ?? []).entries()) {
    const t = raw as { name?: string; service?: string; request?: string; asOf?: string; expect?: ExpectedCard[] };
    const service = t.service ?? services[0];
    if (!service || !t.request) continue;
    cases.push({
      name: t.name ?? `${ruleSet.id} test ${i + 1}`,
      service,
      requestFile: isAbsolute(t.request) ? t.request : join(knowledge.dir, t.request),
      asOf: t.asOf,
      expect: t.expect ?? [],
    });
  }
  return cases;
}

export async function runTestCase(knowledge: Knowledge, ruleSet: RuleSet, testCase: TestCase): Promise<TestOutcome> {
  const diff: string[] = [];
  let actual: Array<{ rule: string; indicator: string; summary: string }> = [];
  try {
    const body = JSON.parse(readFileSync(testCase.requestFile, 'utf8')) as unknown;
    const now = testCase.asOf === undefined ? new Date() : asOfTime(testCase.asOf);
    const { outcome } = await invokeService(onVersion(knowledge, testCase.service, ruleSet), testCase.service, body, {
      clock: () => now,
      prefetch: { timeoutMs: 3000, maxPages: 10 },
    });
    const evaluation = primaryEvaluation(outcome);
    // The rule of each card as the evaluation recorded it, not as the wire format says.
    actual = evaluation.cards.map((c) => ({
      rule: evaluation.origins.get(c.uuid ?? '')?.rule ?? '?',
      indicator: c.indicator,
      summary: c.summary,
    }));
    diff.push(...evaluation.trace.problems.map((p) => `  problem: ${p}`));
  } catch (err) {
    diff.push(`  error: ${(err as Error).message}`);
  }
  const length = Math.max(actual.length, testCase.expect.length);
  for (let i = 0; i < length; i++) {
    const want = testCase.expect[i];
    const got = actual[i];
    if (!want) diff.push(`  + unexpected card ${got.rule} [${got.indicator}] ${JSON.stringify(got.summary)}`);
    else if (!got)
      diff.push(
        `  - missing card ${want.rule}${want.indicator ? ` [${want.indicator}]` : ''}${want.summary ? ` ${JSON.stringify(want.summary)}` : ''}`,
      );
    else {
      for (const field of ['rule', 'indicator', 'summary'] as const) {
        if (want[field] !== undefined && want[field] !== got[field])
          diff.push(
            `  card ${i + 1} ${field}:\n    - ${JSON.stringify(want[field])}\n    + ${JSON.stringify(got[field])}`,
          );
      }
    }
  }
  return { ruleSet: `${ruleSet.id}@${ruleSet.version}`, testCase, passed: diff.length === 0, diff };
}

/** The knowledge with the service evaluating exactly this rule set version (no shadows, no experiment). */
function onVersion(knowledge: Knowledge, serviceId: string, ruleSet: RuleSet): Knowledge {
  const services = knowledge.services.map((s) =>
    s.definition.id === serviceId && s.ruleSet.id === ruleSet.id ? { definition: s.definition, ruleSet } : s,
  );
  return { ...knowledge, services };
}

export function testCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('test')
    .description("run rule sets' test cases: each request must get exactly its expected cards")
    .argument('[rule-set]', 'only this rule set, optionally @version (e.g. nsaid-ckd@1.0.0)')
    .option('-d, --dir <dir>', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .action(async (filter: string | undefined, options: { dir?: string }) => {
      const knowledge = await loadFrom(knowledgeDir(options.dir, env));
      for (const problem of knowledge.problems.filter((p) => p.severity === 'error'))
        io.stderr(`${formatProblem(problem)}\n`);
      const [wantedId, wantedVersion] = (filter ?? '').split('@');
      const ruleSets = [...new Set(knowledge.services.flatMap(versionsOf))].filter(
        (r) => (!wantedId || r.id === wantedId) && (!wantedVersion || r.version === wantedVersion),
      );
      if (filter && ruleSets.length === 0)
        throw new CommanderError(2, 'cds.no-rule-set', `no served rule set matches '${filter}'`);
      let passed = 0;
      let failed = 0;
      const untested: string[] = [];
      for (const ruleSet of ruleSets) {
        const cases = testCasesFor(knowledge, ruleSet);
        if (cases.length === 0) untested.push(`${ruleSet.id}@${ruleSet.version}`);
        for (const testCase of cases) {
          const outcome = await runTestCase(knowledge, ruleSet, testCase);
          io.stdout(`${outcome.passed ? 'pass' : 'FAIL'}  ${outcome.ruleSet}  ${testCase.name}\n`);
          if (!outcome.passed) io.stdout(`${outcome.diff.join('\n')}\n`);
          if (outcome.passed) passed++;
          else failed++;
        }
      }
      for (const r of untested) io.stdout(`no test cases: ${r}\n`);
      io.stdout(
        `${passed} passed, ${failed} failed${untested.length > 0 ? `, ${untested.length} rule set${untested.length === 1 ? '' : 's'} without test cases` : ''}\n`,
      );
      if (failed > 0 || untested.length > 0 || knowledge.unavailable.length > 0)
        throw new CommanderError(1, 'cds.test-failed', 'knowledge tests failed');
    });
}
