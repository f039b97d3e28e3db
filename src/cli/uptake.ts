// `cds uptake report`: the same report as GET /uptake/report, straight from the ledger database.
import { Command, Option } from 'commander';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createUptakeStore, GROUP_KEYS, parseReportQuery, reportToCsv, suppressSmallCells } from '../uptake/index.js';
import type { CliIo } from './io.js';

export function uptakeCommand(io: CliIo, config: () => Config, logger: () => Logger): Command {
  const uptake = new Command('uptake').description(
    'the uptake ledger: cards served, feedback, and the figures quality teams read',
  );
  uptake
    .command('report')
    .description(
      'figures per group (see the README for each definition); small cells withheld below CDS_UPTAKE_MIN_CELL',
    )
    .option('--from <date>', 'cards served at or after this day (UTC) or instant, e.g. 2026-06-01')
    .option('--to <date>', 'cards served before this instant, or up to the end of this day (UTC)')
    .option('--service <id>', 'only this service')
    .option('--rule-set <id>', 'only this rule set')
    .option('--version <version>', 'only this rule set version')
    .option('--rule <id>', 'only this rule')
    .addOption(
      new Option('--indicator <indicator>', 'only cards of this indicator').choices(['info', 'warning', 'critical']),
    )
    .option('--client <iss>', 'only calls from this client (its JWT iss)')
    .option('--group-by <keys>', `comma-separated: ${GROUP_KEYS.join(', ')}`)
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv']).default('json'))
    .option('--comments', 'include override comments (free text that may hold PHI)')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const query = parseReportQuery({
        from: opts.from,
        to: opts.to,
        service: opts.service,
        ruleSet: opts.ruleSet,
        version: opts.version,
        rule: opts.rule,
        indicator: opts.indicator,
        client: opts.client,
        groupBy: opts.groupBy,
        ...(opts.comments ? { comments: 'true' } : {}),
      });
      const cfg = config();
      const store = await createUptakeStore(cfg, { logger: logger() });
      try {
        const report = suppressSmallCells(await store.report(query), cfg.uptakeMinCell);
        io.stdout(opts.format === 'csv' ? reportToCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
      } finally {
        await store.close();
      }
    });
  return uptake;
}
