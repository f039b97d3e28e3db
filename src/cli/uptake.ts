// `cds uptake report` and `cds uptake export`: the same report and MeasureReport export as
// GET /uptake/report, straight from the ledger database.
import { Command, CommanderError, Option } from 'commander';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import {
  GROUP_KEYS,
  measureReportBundle,
  measureSubject,
  parseAlertQuery,
  parseReportQuery,
  parseVariationQuery,
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
  uptake
    .command('alerts')
    .description('drift alarms: rule firing, errors, 412s and latency that changed (the same as GET /uptake/alerts)')
    .option('--from <date>', 'alarms raised at or after this day (UTC) or instant')
    .option('--to <date>', 'alarms raised before this instant, or up to the end of this day (UTC)')
    .option('--service <id>', 'only this service')
    .addOption(new Option('--status <status>', 'which alarms').choices(['open', 'acknowledged', 'all']))
    .action(async (opts: Record<string, string | undefined>) => {
      const query = parseAlertQuery({ from: opts.from, to: opts.to, service: opts.service, status: opts.status });
      const alerts = await withStore(config(), logger(), (store) => store.alerts(query));
      io.stdout(`${JSON.stringify(alerts, null, 2)}\n`);
    });
  uptake
    .command('acknowledge')
    .description('acknowledges a drift alarm: stored with --by; the detector then learns the new level')
    .argument('<id>', 'the alarm id (see `cds uptake alerts`)')
    .requiredOption('--by <who>', 'who acknowledges it (kept with the alarm)')
    .option('--note <text>', 'why (kept with the alarm)')
    .action(async (id: string, opts: { by: string; note?: string }) => {
      const alert = await withStore(config(), logger(), (store) => store.acknowledgeAlert(id, opts.by, opts.note));
      if (!alert) {
        const message = `no drift alarm with id '${id.slice(0, 64)}' (see cds uptake alerts)`;
        io.stderr(`${message}\n`);
        throw new CommanderError(1, 'cds.no-such-alarm', message);
      }
      io.stdout(`${JSON.stringify(alert, null, 2)}\n`);
    });
  uptake
    .command('set-aside')
    .description(
      'ledger entries the database refused as values (a constraint, a type), kept whole instead of lost: ' +
        'how many, since when and why; --retry writes them again once the cause is fixed',
    )
    .option('--retry', 'write them again; those still refused stay set aside')
    .action(async (opts: { retry?: boolean }) => {
      const result = await withStore(config(), logger(), async (store) => ({
        ...(opts.retry ? { retried: await store.retrySetAside() } : {}),
        ...(await store.setAside()),
      }));
      io.stdout(`${JSON.stringify(result, null, 2)}\n`);
      // The summary printed says which are still refused, and why.
      if (opts.retry && result.retried && result.retried.refused > 0)
        throw new CommanderError(1, 'cds.still-refused', 'some set-aside entries are still refused');
    });
  uptake
    .command('variation')
    .description(
      'per clinician or site: cards, acceptance and completion with funnel limits (95 %, 99.8 %) and outliers; ' +
        'units below CDS_UPTAKE_MIN_CELL cards pooled',
    )
    .addOption(new Option('--by <unit>', 'the units compared').choices(['clinician', 'site']).default('clinician'))
    .option('--from <date>', 'cards served at or after this day (UTC) or instant')
    .option('--to <date>', 'cards served before this instant, or up to the end of this day (UTC)')
    .option('--service <id>', 'only this service')
    .option('--rule-set <id>', 'only this rule set')
    .option('--version <version>', 'only this rule set version')
    .option('--rule <id>', 'only this rule')
    .action(async (opts: Record<string, string | undefined>) => {
      const cfg = config();
      const query = parseVariationQuery(
        {
          by: opts.by,
          from: opts.from,
          to: opts.to,
          service: opts.service,
          ruleSet: opts.ruleSet,
          version: opts.version,
          rule: opts.rule,
        },
        cfg.uptakeMinCell,
      );
      const report = await withStore(cfg, logger(), (store) => store.variation(query));
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    });
  return uptake;
}
