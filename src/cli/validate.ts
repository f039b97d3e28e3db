// cds validate [dir]: every problem of a knowledge directory, as file:line:column or file + JSON
// pointer, all at once; exit 1 when there is any error.
import { Command, CommanderError } from 'commander';
import { formatProblem } from '../knowledge/index.js';
import type { CliIo } from './io.js';
import { knowledgeDir, loadFrom } from './knowledge.js';

export function validateCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('validate')
    .description('check a knowledge directory: schemas, CQL compilation, value sets, cross-references')
    .argument('[dir]', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .action(async (dirArg: string | undefined) => {
      const dir = knowledgeDir(dirArg, env);
      const knowledge = await loadFrom(dir);
      for (const problem of knowledge.problems) io.stdout(`${formatProblem(problem)}\n`);
      const errors = knowledge.problems.filter((p) => p.severity === 'error').length;
      const warnings = knowledge.problems.length - errors;
      const services = `${knowledge.services.length} service${knowledge.services.length === 1 ? '' : 's'} ready`;
      const unavailable = knowledge.unavailable.length > 0 ? `, ${knowledge.unavailable.length} unavailable (${knowledge.unavailable.map((u) => u.id).join(', ')})` : '';
      io.stdout(`${dir}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}; ${services}${unavailable}\n`);
      if (errors > 0) throw new CommanderError(1, 'cds.invalid', 'the knowledge has errors');
    });
}
