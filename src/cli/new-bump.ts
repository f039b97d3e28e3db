// cds new <rule-set>: start a rule set (and its CQL library) as a draft that validates.
// cds bump <rule-set>: copy the newest version to the next one (semver), ready to edit.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { cqlFileExists, invalidRuleSetId, ruleSetExists, unknownLibrary, unknownRuleSet } from '../errors.js';
import { compareVersions, libraryHeader } from '../knowledge/index.js';
import type { CliIo } from './io.js';
import { knowledgeDir } from './knowledge.js';

const ID = /^[a-z0-9][a-z0-9-]*$/;

function libraryName(id: string): string {
  return id
    .split('-')
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}

export function newCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('new')
    .description('start a rule set rules/<id>/0.1.0.json (draft) with a CQL library cql/<Name>-0.1.0.cql')
    .argument('<rule-set>', 'rule set id, lower-case words joined by dashes (e.g. sepsis-lactate)')
    .option('-d, --dir <dir>', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .option('--title <title>', 'title of the rule set')
    .action((id: string, options: { dir?: string; title?: string }) => {
      if (!ID.test(id)) throw invalidRuleSetId(id);
      const dir = knowledgeDir(options.dir, env);
      const ruleDir = join(dir, 'rules', id);
      if (existsSync(ruleDir)) throw ruleSetExists(id);
      const library = libraryName(id);
      const cqlFile = join(dir, 'cql', `${library}-0.1.0.cql`);
      if (existsSync(cqlFile)) throw cqlFileExists(library, '0.1.0');
      mkdirSync(ruleDir, { recursive: true });
      mkdirSync(join(dir, 'cql'), { recursive: true });
      writeFileSync(
        cqlFile,
        [
          `library ${library} version '0.1.0'`,
          '',
          "using FHIR version '4.0.1'",
          '',
          "include FHIRHelpers version '4.0.1' called FHIRHelpers",
          '',
          'context Patient',
          '',
          '// The facts the rules decide on: one define each.',
          'define "Is Adult":',
          '  AgeInYears() >= 18',
          '',
        ].join('\n'),
      );
      const ruleSet = {
        $schema: '../../schemas/rule-set.schema.json',
        id,
        version: '0.1.0',
        status: 'draft',
        title: options.title ?? id,
        description: 'What this rule set decides, for whom, at which hook.',
        provenance: {
          summary: 'The insight this encodes: the analysis or guideline it comes from and what it found.',
          sources: [{ kind: 'local-analysis', citation: 'Name the analysis, its data, period and result.' }],
        },
        cql: { library, version: '0.1.0' },
        rules: [
          {
            id: 'example-rule',
            description: 'When the card is shown.',
            conditions: { all: [{ fact: 'cql', path: "$['Is Adult']", operator: 'equal', value: true }] },
            card: {
              summary: 'One sentence under 140 characters.',
              indicator: 'info',
              source: { label: options.title ?? id },
            },
          },
        ],
        tests: [],
      };
      writeFileSync(join(ruleDir, '0.1.0.json'), `${JSON.stringify(ruleSet, null, 2)}\n`);
      io.stdout(`created rules/${id}/0.1.0.json and cql/${library}-0.1.0.cql\n`);
      io.stdout(`next: bind it to a service in cds-services.json, add test cases, then 'cds test ${id}'\n`);
      io.stdout(`a draft is served only with CDS_SERVE_DRAFTS=on: 'cds release ${id}@0.1.0' turns it active\n`);
    });
}

export function bumpCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('bump')
    .description('copy the newest version of a rule set to the next version (status draft), with its tests')
    .argument('<rule-set>', 'rule set id')
    .addOption(
      new Option('--level <level>', 'which part of the version to raise')
        .choices(['major', 'minor', 'patch'])
        .default('minor'),
    )
    .option('--with-cql', "also copy the rule set's CQL library to a new version and point the rule set at it")
    .option('-d, --dir <dir>', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .action((id: string, options: { level: 'major' | 'minor' | 'patch'; withCql?: boolean; dir?: string }) => {
      const dir = knowledgeDir(options.dir, env);
      const ruleDir = join(dir, 'rules', id);
      const versions = existsSync(ruleDir)
        ? readdirSync(ruleDir)
            .filter((f) => /^\d+\.\d+\.\d+\.json$/.test(f))
            .map((f) => f.replace(/\.json$/, ''))
            .sort(compareVersions)
        : [];
      const current = versions.at(-1);
      if (!current) throw unknownRuleSet(id);
      const next = bumpVersion(current, options.level);
      const doc = JSON.parse(readFileSync(join(ruleDir, `${current}.json`), 'utf8')) as {
        version: string;
        status: string;
        cql?: { library: string; version: string };
      };
      doc.version = next;
      doc.status = 'draft';
      const written = [`rules/${id}/${next}.json`];
      if (options.withCql && doc.cql) {
        const from = findLibraryFile(join(dir, 'cql'), doc.cql.library, doc.cql.version);
        if (!from) throw unknownLibrary(doc.cql.library, doc.cql.version);
        const cqlNext = bumpVersion(doc.cql.version, options.level);
        const target = join(dir, 'cql', `${doc.cql.library}-${cqlNext}.cql`);
        if (existsSync(target)) throw cqlFileExists(doc.cql.library, cqlNext);
        writeFileSync(
          target,
          readFileSync(from, 'utf8').replace(/(library\s+\S+\s+version\s+')[^']+(')/, `$1${cqlNext}$2`),
        );
        doc.cql = { ...doc.cql, version: cqlNext };
        written.push(`cql/${doc.cql.library}-${cqlNext}.cql`);
      }
      writeFileSync(join(ruleDir, `${next}.json`), `${JSON.stringify(doc, null, 2)}\n`);
      io.stdout(`${id}: ${current} → ${next} (draft); wrote ${written.join(' and ')}\n`);
      io.stdout(
        `served versions never change: edit ${written.join(' and ')}, then point a service (or a shadow/arm) at ${id} ${next}\n`,
      );
    });
}

export function bumpVersion(version: string, level: 'major' | 'minor' | 'patch'): string {
  const [major, minor, patch] = version.split(/[.+-]/).map(Number);
  if (level === 'major') return `${major + 1}.0.0`;
  if (level === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

function findLibraryFile(dir: string, name: string, version: string): string | undefined {
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.cql')) continue;
    const header = libraryHeader(readFileSync(join(dir, file), 'utf8'));
    if (header?.name === name && header.version === version) return join(dir, file);
  }
  return undefined;
}
