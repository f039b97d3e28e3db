// `cds experiment report <id>`: the same report as GET /uptake/experiments/{id}, straight from the
// ledger database. The experiment's arms and weights come from cds-services.json under CDS_KNOWLEDGE_DIR.
import { Command } from 'commander';
import type { Config } from '../config.js';
import { noExperimentData } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  experimentReportToCsv,
  parseAnalysisQuery,
  plansOfDefinitions,
  suppressExperimentReport,
} from '../uptake/index.js';
import type { CliIo } from './io.js';
import { declaredServices } from './knowledge.js';
import { periodOptions, withStore, type PeriodOptions } from './report-options.js';

export function experimentCommand(io: CliIo, config: () => Config, logger: () => Logger): Command {
  const experiment = new Command('experiment').description(
    'randomised experiments declared in cds-services.json (rollout.experiment)',
  );
  periodOptions(
    experiment
      .command('report')
      .description(
        'an experiment by assigned arm (intention to treat): see the README; ' +
          'small cells withheld below CDS_UPTAKE_MIN_CELL',
      )
      .argument('<id>', 'the experiment id'),
  ).action(async (id: string, opts: PeriodOptions) => {
    const query = parseAnalysisQuery({ from: opts.from, to: opts.to, format: opts.format }, 'an experiment report');
    const cfg = config();
    const plan = plansOfDefinitions(declaredServices(cfg.knowledgeDir, io)).find((p) => p.id === id);
    const report = await withStore(cfg, logger(), (store) =>
      store.experimentReport(id, { plan, from: query.from, to: query.to }),
    );
    if (!report) {
      throw noExperimentData(id, `${cfg.knowledgeDir}/cds-services.json`);
    }
    const out = suppressExperimentReport(report, cfg.uptakeMinCell);
    io.stdout(query.format === 'csv' ? experimentReportToCsv(out) : `${JSON.stringify(out, null, 2)}\n`);
  });
  return experiment;
}
