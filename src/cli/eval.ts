// cds eval --service <id> --request <file>: one hook request through the engine without HTTP, with
// the cards and the explanation: prefetch keys, CQL define values, each rule's conditions with the
// fact values they saw, and time per phase. cds eval --library: see eval-library.ts.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { invokeService, primaryEvaluation, traceOfFailure, type EvaluationTrace } from '../engine/index.js';
import type { Action } from '../cards/index.js';
import { loadConfig } from '../config.js';
import { asOfTime } from './as-of.js';
import { invalidEvalOption, unreadableRequestFile } from '../errors.js';
import { runLibraryEval } from './eval-library.js';
import type { CliIo } from './io.js';
import { knowledgeDir, loadFrom } from './knowledge.js';
import { terminologyOptions } from '../knowledge/index.js';

interface EvalOptions {
  service?: string;
  request?: string;
  library?: string;
  patients?: string;
  param: string[];
  format: 'json' | 'csv';
  dir?: string;
  asOf?: string;
  json?: boolean;
}

export function evalCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('eval')
    .description(
      'evaluate one hook request without HTTP and explain the result; or, with --library, every define of a CQL library for each patient of a batch',
    )
    .option('-s, --service <id>', 'service id (from cds-services.json)')
    .option('-r, --request <file>', 'hook request JSON (prefetch inline, or fhirServer to fetch from)')
    .option(
      '-l, --library <name[@version]>',
      'evaluate this CQL library (newest version unless given) instead of a service',
    )
    .option('-p, --patients <dir|bundle>', 'with --library: a directory of patient Bundles, or one Bundle file')
    .option(
      '--param <name=value>',
      'with --library: a CQL parameter (JSON, @file.json, a date, or a relative time such as "this calendar year")',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .addOption(
      new Option('--format <format>', 'with --library: output format').choices(['json', 'csv']).default('json'),
    )
    .option('-d, --dir <dir>', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .addOption(new Option('--as-of <time>', 'evaluate as of this ISO 8601 time (default: now)'))
    .option('--json', 'print cards and explanation as one JSON document')
    .action(async (options: EvalOptions) => {
      const now = options.asOf === undefined ? new Date() : asOfTime(options.asOf);
      if (options.library) {
        if (options.service || options.request)
          throw invalidEvalOption('give either --library or --service and --request');
        const config = loadConfig(env, { requireAuthSettings: false });
        await runLibraryEval(io, config, {
          library: options.library,
          patients: options.patients,
          param: options.param,
          format: options.format,
          now,
          dir: knowledgeDir(options.dir, env),
        });
        return;
      }
      if (!options.service || !options.request)
        throw invalidEvalOption('give --service <id> and --request <file> (or --library and --patients)');
      let body: unknown;
      try {
        body = JSON.parse(readFileSync(options.request, 'utf8'));
      } catch (err) {
        throw unreadableRequestFile(options.request, (err as Error).message);
      }
      const config = loadConfig(env, { requireAuthSettings: false });
      const knowledge = await loadFrom(knowledgeDir(options.dir, env), { terminology: terminologyOptions(config) });
      const started = performance.now();
      let invoked: Awaited<ReturnType<typeof invokeService>>;
      try {
        invoked = await invokeService(knowledge, options.service, body, {
          clock: () => now,
          prefetch: {
            timeoutMs: config.fhirTimeoutMs,
            maxPages: config.fhirMaxPages,
            maxBytes: config.fhirMaxBytes,
            maxResources: config.fhirMaxResources,
            fetchMedications: config.medicationFetch,
          },
          fhirCheck: config.fhirCheck,
        });
      } catch (err) {
        // CQL failed: the defines evaluated before it, and where and why it failed (the error follows on stderr).
        const failed = traceOfFailure(err) ?? traceOfFailure((err as { cause?: unknown })?.cause);
        if (failed) {
          io.stdout(
            options.json
              ? `${JSON.stringify({ asOf: now.toISOString(), error: failed.error, explanation: { cql: failed.cql } }, null, 2)}\n`
              : failedExplanation(options.service, now, failed),
          );
        }
        throw err;
      }
      const { outcome } = invoked;
      const total = performance.now() - started;
      const { cards, trace, systemActions: made } = primaryEvaluation(outcome);
      const systemActions = made.map((s) => s.action);
      if (options.json) {
        io.stdout(
          `${JSON.stringify({ asOf: now.toISOString(), cards, ...(systemActions.length > 0 ? { systemActions } : {}), explanation: { prefetch: outcome.prefetch, ...trace, timings: { ...trace.timings, total } } }, null, 2)}\n`,
        );
      } else {
        io.stdout(explain(options.service, now, outcome.prefetch, cards, trace, total, systemActions));
      }
      if (trace.problems.length > 0)
        throw new CommanderError(1, 'cds.knowledge-problems', 'cards were not served because of knowledge problems');
    });
}

type Trace = EvaluationTrace;

function explain(
  service: string,
  now: Date,
  prefetch: Record<string, string>,
  cards: unknown[],
  trace: Trace,
  total: number,
  systemActions: Action[] = [],
): string {
  const lines: string[] = [];
  lines.push(`service ${service}, as of ${now.toISOString()}`, '');
  lines.push('prefetch');
  for (const [key, status] of Object.entries(prefetch)) lines.push(`  ${key}: ${status}`);
  if (Object.keys(prefetch).length === 0) lines.push('  (none declared)');
  for (const s of trace.prefetchShortfalls ?? [])
    lines.push(
      `  ${s.key}: the ${s.from === 'ehr' ? 'sent' : 'fetched'} search held ${s.got} of ${s.total} matches ` +
        `(asked ${s.asked}): ${s.resolution === 'fetched-in-full' ? 'fetched in full' : 'evaluated with part'}`,
    );
  lines.push('', 'CQL defines');
  for (const [name, value] of Object.entries(trace.cql)) {
    const time = trace.defineTimings[name];
    lines.push(`  ${name} = ${brief(value)}${time !== undefined ? `   [${ms(time)}]` : ''}`);
  }
  if (Object.keys(trace.cql).length === 0) lines.push('  (no CQL library)');
  lines.push('', 'rules');
  for (const rule of trace.rules) {
    lines.push(
      `  ${rule.fired ? 'FIRED' : 'not fired'}  ${rule.rule}${rule.fired ? ` → ${rule.cards} card${rule.cards === 1 ? '' : 's'}` : ''}${rule.error ? `  (card not served: ${rule.error})` : ''}`,
    );
    for (const line of conditionLines(rule.conditions, '    ')) lines.push(line);
  }
  lines.push('', `cards (${cards.length})`);
  for (const card of cards as Array<{ indicator: string; summary: string }>)
    lines.push(`  [${card.indicator}] ${card.summary}`);
  if (systemActions.length > 0) {
    lines.push('', `system actions (${systemActions.length})`);
    for (const a of systemActions)
      lines.push(
        `  ${a.type} ${a.resourceId ?? (a.resource as { resourceType?: string }).resourceType}: ${a.description}`,
      );
  }
  lines.push(
    '',
    `time: CQL ${ms(trace.timings.cql)}, rules ${ms(trace.timings.rules)}, cards ${ms(trace.timings.cards)}, total ${ms(total)} (includes prefetch)`,
  );
  for (const problem of trace.problems) lines.push(`problem: ${problem}`);
  for (const problem of trace.dataProblems ?? []) lines.push(`malformed data (evaluated anyway): ${problem}`);
  return `${lines.join('\n')}\n`;
}

function failedExplanation(service: string, now: Date, trace: Trace): string {
  const lines = [`service ${service}, as of ${now.toISOString()}`, '', 'CQL defines (until the evaluation failed)'];
  for (const [name, value] of Object.entries(trace.cql)) lines.push(`  ${name} = ${brief(value)}`);
  const e = trace.error;
  if (e) {
    lines.push('', `failed: define "${e.define ?? '?'}"${e.library ? `, library ${e.library.replace('|', ' ')}` : ''}`);
    if (e.locator) lines.push(`  at ${e.file ?? ''} line ${e.locator}${e.expression ? ` (${e.expression})` : ''}`);
    lines.push(`  ${e.message}`);
  }
  return `${lines.join('\n')}\n`;
}

function conditionLines(node: unknown, indent: string): string[] {
  if (!node || typeof node !== 'object') return [];
  const c = node as Record<string, unknown>;
  const out: string[] = [];
  for (const key of ['all', 'any'] as const) {
    if (Array.isArray(c[key])) {
      out.push(`${indent}${key}:`);
      for (const child of c[key] as unknown[]) out.push(...conditionLines(child, `${indent}  `));
    }
  }
  if (c.not) {
    out.push(`${indent}not:`);
    out.push(...conditionLines(c.not, `${indent}  `));
  }
  if (typeof c.fact === 'string') {
    const seen = 'factResult' in c ? brief(c.factResult) : '(not evaluated)';
    const mark = c.result === true ? 'true ' : c.result === false ? 'false' : '  -  ';
    out.push(
      `${indent}${mark} ${c.fact}${typeof c.path === 'string' ? ` ${c.path}` : ''} ${String(c.operator)} ${JSON.stringify(c.value)}   (was ${seen})`,
    );
  }
  return out;
}

function brief(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value) && text.length > 160) return `[${value.length} items] ${text.slice(0, 140)}…`;
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

const ms = (n: number) => `${n.toFixed(1)} ms`;
