// cds release <rule-set>@<version>: a draft becomes active, once its test cases pass and it has run
// in shadow as long as the services that use it ask (rollout.releaseAfter).
// cds retire <rule-set>@<version>: a version is never served again; its history stays in the reports.
// Both change only the file's top-level "status" value: the fingerprint leaves the status out.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { loadConfig } from '../config.js';
import {
  alreadyInStatus,
  badVersionSpec,
  noStatus,
  notADraft,
  unknownRuleSetVersion,
  unreadableCatalogue,
  versionInUse,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { findStatus, formatProblem, withStatus, type ServiceDefinition, type Status } from '../knowledge/index.js';
import { createUptakeStore, type UptakeStore } from '../uptake/index.js';
import type { CliIo } from './io.js';
import { knowledgeDir, loadFrom } from './knowledge.js';
import { runTestCase, testCasesFor } from './test.js';

const DAY_MS = 86_400_000;

interface VersionFile {
  id: string;
  version: string;
  /** Relative to the knowledge directory. */
  rel: string;
  path: string;
  text: string;
  status: string;
}

function readVersion(dir: string, spec: string, command: string): VersionFile {
  const m = /^([^@\s]+)@([^@\s]+)$/.exec(spec);
  if (!m) {
    throw badVersionSpec(spec, command);
  }
  const [, id, version] = m;
  const rel = `rules/${id}/${version}.json`;
  const path = join(dir, rel);
  if (!existsSync(path)) {
    const folder = join(dir, 'rules', id);
    const versions = existsSync(folder)
      ? readdirSync(folder)
          .filter((f) => f.endsWith('.json'))
          .map((f) => f.slice(0, -5))
      : [];
    const known =
      versions.length > 0 ? ` (versions of ${id}: ${versions.sort().join(', ')})` : ` (no rule set ${id} under rules/)`;
    throw unknownRuleSetVersion(rel, known);
  }
  const text = readFileSync(path, 'utf8');
  const status = findStatus(text)?.value;
  if (status === undefined) throw noStatus(rel);
  return { id, version, rel, path, text, status };
}

/** The catalogue as written, so that services whose knowledge does not load are seen too. */
function serviceDefinitions(dir: string): ServiceDefinition[] {
  try {
    const catalogue = JSON.parse(readFileSync(join(dir, 'cds-services.json'), 'utf8')) as { services?: unknown };
    return Array.isArray(catalogue.services) ? (catalogue.services as ServiceDefinition[]) : [];
  } catch (err) {
    throw unreadableCatalogue((err as Error).message);
  }
}

/** How each service that names the rule set uses this version: 'live knowledge', 'shadow', "experiment '…' arm '…'". */
function usesOf(
  definitions: ServiceDefinition[],
  id: string,
  version: string,
): Array<{ service: string; role: string }> {
  const uses: Array<{ service: string; role: string }> = [];
  for (const d of definitions) {
    if (d?.knowledge?.ruleSet !== id) continue;
    if (d.knowledge.version === version) uses.push({ service: d.id, role: 'its live knowledge (knowledge.version)' });
    if (Array.isArray(d.rollout?.shadow) && d.rollout.shadow.some((s) => s?.version === version)) {
      uses.push({ service: d.id, role: 'a shadow version (rollout.shadow)' });
    }
    const experiment = d.rollout?.experiment;
    for (const arm of Array.isArray(experiment?.arms) ? experiment.arms : []) {
      if (arm?.version === version) {
        uses.push({ service: d.id, role: `arm '${arm.name}' of experiment '${experiment?.id}'` });
      }
    }
  }
  return uses;
}

function setStatus(file: VersionFile, status: Status): void {
  writeFileSync(file.path, withStatus(file.text, status));
}

export function releaseCommand(io: CliIo, env: NodeJS.ProcessEnv, logger: () => Logger): Command {
  return new Command('release')
    .description('turn a draft active: its test cases must pass, and its shadow time be what the services ask')
    .argument('<rule-set@version>', 'the draft to release, e.g. nsaid-ckd@1.1.0')
    .option('-d, --dir <dir>', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .action(async (spec: string, options: { dir?: string }) => {
      const dir = knowledgeDir(options.dir, env);
      const file = readVersion(dir, spec, 'release');
      const name = `${file.id}@${file.version}`;
      if (file.status === 'active') throw alreadyInStatus(name, 'active');
      if (file.status !== 'draft') {
        throw notADraft(name, file.status, file.id);
      }
      const refusals: string[] = [];
      const knowledge = await loadFrom(dir);
      const ruleSet = knowledge.ruleSets?.find((r) => r.id === file.id && r.version === file.version);
      if (!ruleSet) {
        for (const p of knowledge.problems.filter((p) => p.severity === 'error' && p.file === file.rel))
          io.stderr(`${formatProblem(p)}\n`);
        refusals.push(`${name} has errors (see above, or cds validate)`);
      } else {
        const cases = testCasesFor(knowledge, ruleSet);
        if (cases.length === 0) {
          refusals.push(
            `${name} has no test cases: add them to its "tests" ` +
              '(or fixtures/requests/<service-id>/ of a service it is live in)',
          );
        }
        let failed = 0;
        for (const testCase of cases) {
          const outcome = await runTestCase(knowledge, ruleSet, testCase);
          io.stdout(`${outcome.passed ? 'pass' : 'FAIL'}  ${outcome.ruleSet}  ${testCase.name}\n`);
          if (!outcome.passed) {
            io.stdout(`${outcome.diff.join('\n')}\n`);
            failed++;
          }
        }
        if (failed > 0) {
          refusals.push(`${failed} of ${cases.length} test case${cases.length === 1 ? '' : 's'} of ${name} failed`);
        }
      }
      refusals.push(...(await shadowRefusals(dir, env, logger, file.id, file.version)));
      if (refusals.length > 0) {
        for (const r of refusals) io.stderr(`not released: ${r}\n`);
        throw new CommanderError(1, 'cds.release-refused', `${name} was not released`);
      }
      setStatus(file, 'active');
      io.stdout(
        `${name}: draft → active (${file.rel}); once served it never changes: the next change is a new version\n`,
      );
      if (!usesOf(serviceDefinitions(dir), file.id, file.version).some((u) => u.role.startsWith('its live'))) {
        io.stdout(`to serve it, point a service's knowledge.version at ${file.version} in cds-services.json\n`);
      }
    });
}

/** Why the shadow history is too short for a service that asks for one before release (empty when it is not). */
async function shadowRefusals(
  dir: string,
  env: NodeJS.ProcessEnv,
  logger: () => Logger,
  id: string,
  version: string,
): Promise<string[]> {
  const asking = serviceDefinitions(dir).filter((d) => d?.knowledge?.ruleSet === id && d.rollout?.releaseAfter);
  if (asking.length === 0) return [];
  const config = loadConfig(env, { requireAuthSettings: false });
  // Without a ledger there is no shadow history: do not create an empty one to find that out.
  const ledger = config.databaseUrl !== undefined || existsSync(join(config.dataDir, 'uptake.sqlite'));
  let store: UptakeStore | undefined;
  try {
    if (ledger) store = await createUptakeStore(config, { logger: logger() });
    const refusals: string[] = [];
    for (const d of asking) {
      const { shadowDays = 0, shadowCalls = 0 } = d.rollout?.releaseAfter ?? {};
      const history = store ? await store.shadowHistory(d.id, id, version) : { calls: 0 };
      const days = history.firstAt ? (Date.now() - history.firstAt.getTime()) / DAY_MS : 0;
      if (days >= shadowDays && history.calls >= shadowCalls) continue;
      const had = history.firstAt
        ? `${days.toFixed(1)} days and ${history.calls} call${history.calls === 1 ? '' : 's'} ` +
          `since ${history.firstAt.toISOString()}`
        : `no shadow evaluations${ledger ? '' : ' (no uptake ledger found)'}`;
      refusals.push(
        `service '${d.id}' asks for ${shadowDays} days and ${shadowCalls} calls in shadow ` +
          'before release (rollout.releaseAfter); ' +
          `${id}@${version} has had ${had}`,
      );
    }
    return refusals;
  } finally {
    await store?.close();
  }
}

export function retireCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('retire')
    .description('retire a version: never served again; its history stays in every report')
    .argument('<rule-set@version>', 'the version to retire, e.g. nsaid-ckd@1.0.0')
    .option('-d, --dir <dir>', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .action((spec: string, options: { dir?: string }) => {
      const dir = knowledgeDir(options.dir, env);
      const file = readVersion(dir, spec, 'retire');
      const name = `${file.id}@${file.version}`;
      if (file.status === 'retired') throw alreadyInStatus(name, 'retired');
      const uses = usesOf(serviceDefinitions(dir), file.id, file.version);
      if (uses.length > 0) {
        const listed = uses.map((u) => `service '${u.service}' uses it as ${u.role}`).join('; ');
        throw versionInUse(name, listed);
      }
      setStatus(file, 'retired');
      io.stdout(
        `${name}: ${file.status} → retired (${file.rel}); it is never served again, its history stays in the reports\n`,
      );
    });
}
