// `cds shadow report <service>`: the same report as GET /uptake/shadow/{service}, straight from the
// ledger database; the declared shadow versions come from cds-services.json under CDS_KNOWLEDGE_DIR.
import { Command } from 'commander';
import type { Config } from '../config.js';
import { noServiceData } from '../errors.js';
import type { Logger } from '../logger.js';
import { parseAnalysisQuery, shadowReportToCsv } from '../uptake/index.js';
import type { CliIo } from './io.js';
import { declaredServices } from './knowledge.js';
import { periodOptions, withStore, type PeriodOptions } from './report-options.js';

export function shadowCommand(io: CliIo, config: () => Config, logger: () => Logger): Command {
  const shadow = new Command('shadow').description('shadow versions declared in cds-services.json (rollout.shadow)');
  periodOptions(
    shadow
      .command('report')
      .description('each shadow version of a service against the live version on the same calls')
      .argument('<service>', 'the service id'),
  ).action(async (serviceId: string, opts: PeriodOptions) => {
    const query = parseAnalysisQuery({ from: opts.from, to: opts.to, format: opts.format }, 'a shadow report');
    const cfg = config();
    const definitions = declaredServices(cfg.knowledgeDir, io).filter((d) => d.id === serviceId);
    const declaredShadows =
      definitions.length > 0
        ? [...new Set(definitions.flatMap((d) => (d.rollout?.shadow ?? []).map((s) => s.version)))]
        : undefined;
    const report = await withStore(cfg, logger(), (store) =>
      store.shadowReport(serviceId, { from: query.from, to: query.to, declaredShadows }),
    );
    if (!report) {
      throw noServiceData(serviceId, `in ${cfg.knowledgeDir}/cds-services.json`);
    }
    io.stdout(query.format === 'csv' ? shadowReportToCsv(report) : `${JSON.stringify(report, null, 2)}\n`);
  });
  return shadow;
}
