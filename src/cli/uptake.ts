// `cds uptake report` and `cds uptake export`: the same report and MeasureReport export as
// GET /uptake/report, straight from the ledger database.
import { Command, Option } from 'commander';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import {
  GROUP_KEYS,
  measureReportBundle,
  measureSubject,
  parseReportQuery,
  plansOfDefinitions,
  reportToCsv,
  reportToNdjson,
  suppressSmallCells,
} from '../uptake/index.js';
import type { CliIo } from './io.js';
import { declaredServices } from './knowledge.js';
import { withStore } from './report-options.js';

type Options = Record<string, string | boolean | undefined>;

/** The report's filters, shared by `report` and `export`. */
function filterOptions(command: Command): Command {
  return command
    .option('--from <date>', 'cards served at or after this day (UTC) or instant, e.g. 2026-06-01')
    .option('--to <date>', 'cards served before this instant, or up to the end of this day (UTC)')
    .option('--service <id>', 'only this service')
    .option('--rule-set <id>', 'only this rule set')
    .option('--version <version>', 'only this rule set version')
    .option('--rule <id>', 'only this rule')
    .addOption(
      new Option('--indicator <indicator>', 'only cards of this indicator').choices(['info', 'warning', 'critical']),
    )
    .option('--client <iss>', 'only calls from this client (its JWT iss)');
}

const filters = (opts: Options) => ({
  from: opts.from,
  to: opts.to,
  service: opts.service,
  ruleSet: opts.ruleSet,
  version: opts.version,
  rule: opts.rule,
  indicator: opts.indicator,
  client: opts.client,
});

export function uptakeCommand(io: CliIo, config: () => Config, logger: () => Logger): Command {
  const uptake = new Command('uptake').description(
    'the uptake ledger: cards served, feedback, and the figures quality teams read',
  );
  filterOptions(
    uptake
      .command('report')
      .description(
        'figures per group (see the README for each definition); small cells withheld below CDS_UPTAKE_MIN_CELL',
      ),
  )
    .option('--group-by <keys>', `comma-separated: ${GROUP_KEYS.join(', ')}`)
    .addOption(
      new Option('--format <format>', 'output format (ndjson: one JSON object a line)')
        .choices(['json', 'csv', 'ndjson'])
        .default('json'),
    )
    .option('--comments', 'include override comments (free text that may hold PHI)')
    .action(async (opts: Options) => {
      const query = parseReportQuery({
        ...filters(opts),
        groupBy: opts.groupBy,
        ...(opts.comments ? { comments: 'true' } : {}),
      });
      const cfg = config();
      const report = suppressSmallCells(
        await withStore(cfg, logger(), (store) => store.report(query)),
        cfg.uptakeMinCell,
      );
      if (opts.format === 'csv') io.stdout(reportToCsv(report));
      else if (opts.format === 'ndjson') io.stdout(reportToNdjson(report));
      else io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    });
  filterOptions(
    uptake
      .command('export')
      .description(
        'FHIR R4 MeasureReport resources (summary, one per service or version) in a Bundle; ' +
          'small cells withheld below CDS_UPTAKE_MIN_CELL and marked (see the README)',
      ),
  )
    .addOption(new Option('--format <format>', 'export format').choices(['measure-report']).default('measure-report'))
    .addOption(
      new Option('--group-by <subject>', 'one MeasureReport per service or per rule set @ version')
        .choices(['service', 'version'])
        .default('service'),
    )
    .action(async (opts: Options) => {
      const query = parseReportQuery({ ...filters(opts), groupBy: opts.groupBy });
      const subject = measureSubject(query);
      const cfg = config();
      const plans = plansOfDefinitions(declaredServices(cfg.knowledgeDir, io));
      const bundle = await withStore(cfg, logger(), (store) =>
        measureReportBundle(store, query, { minCell: cfg.uptakeMinCell, plans, now: new Date(), subject }),
      );
      io.stdout(`${JSON.stringify(bundle, null, 2)}\n`);
    });
  return uptake;
}
