// cds validate [dir]: every problem of a knowledge directory, as file:line:column or file + JSON
// pointer, all at once; exit 1 when there is any error.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { formatProblem, terminologyOptions, type ServedFingerprints } from '../knowledge/index.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createUptakeStore } from '../uptake/index.js';
import type { CliIo } from './io.js';
import { knowledgeDir, loadFrom } from './knowledge.js';

/** The fingerprints of served versions, when an uptake ledger is configured or present. */
async function servedFingerprints(env: NodeJS.ProcessEnv, io: CliIo): Promise<ServedFingerprints | undefined> {
  const config = loadConfig(env, { requireAuthSettings: false });
  if (!config.databaseUrl && !existsSync(join(config.dataDir, 'uptake.sqlite'))) return undefined;
  const store = await createUptakeStore(config, { logger: createLogger('error', true) });
  try {
    return await store.servedFingerprints();
  } catch (err) {
    io.stderr(
      `warning: the uptake ledger cannot be read, so served versions are not checked: ${(err as Error).message}\n`,
    );
    return undefined;
  } finally {
    await store.close();
  }
}

export function validateCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('validate')
    .description('check a knowledge directory: schemas, CQL compilation, value sets, cross-references')
    .argument('[dir]', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .action(async (dirArg: string | undefined) => {
      const dir = knowledgeDir(dirArg, env);
      // As the server would load it: drafts count as served only with CDS_SERVE_DRAFTS=on.
      const config = loadConfig(env, { requireAuthSettings: false });
      const knowledge = await loadFrom(dir, {
        served: await servedFingerprints(env, io),
        serveDrafts: config.serveDrafts,
        terminology: terminologyOptions(config),
      });
      for (const problem of knowledge.problems) io.stdout(`${formatProblem(problem)}\n`);
      const errors = knowledge.problems.filter((p) => p.severity === 'error').length;
      const warnings = knowledge.problems.filter((p) => p.severity === 'warning').length;
      // How published content was understood (which of CQL and ELM runs, how a value set was found).
      const notes = knowledge.problems.filter((p) => p.severity === 'info').length;
      const services = `${knowledge.services.length} service${knowledge.services.length === 1 ? '' : 's'} ready`;
      const unavailable =
        knowledge.unavailable.length > 0
          ? `, ${knowledge.unavailable.length} unavailable (${knowledge.unavailable.map((u) => u.id).join(', ')})`
          : '';
      io.stdout(
        `${dir}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}${notes > 0 ? `, ${notes} note${notes === 1 ? '' : 's'}` : ''}; ${services}${unavailable}\n`,
      );
      if (errors > 0) throw new CommanderError(1, 'cds.invalid', 'the knowledge has errors');
    });
}
