// cds prefetch [service]: the prefetch templates derived from each service's CQL (the FHIR queries its
// ELM's retrieves need), as discovery would show them with "prefetch": "derive", beside the templates
// the service declares today and what the derivation left broader.
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { unknownService } from '../errors.js';
import { derivePrefetch, servedVersions } from '../knowledge/index.js';
import type { CliIo } from './io.js';
import { knowledgeDir, loadFrom } from './knowledge.js';

export function prefetchCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('prefetch')
    .description("print the prefetch templates derived from a service's CQL (every service when none is named)")
    .argument('[service]', 'service id (from cds-services.json)')
    .option('-k, --knowledge <dir>', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .option('--json', 'one JSON object: service id → { derived, declared, notes }')
    .action(async (serviceId: string | undefined, options: { knowledge?: string; json?: boolean }) => {
      const config = loadConfig(env, { requireAuthSettings: false });
      const knowledge = await loadFrom(knowledgeDir(options.knowledge, env));
      const services = knowledge.services.filter((s) => serviceId === undefined || s.definition.id === serviceId);
      if (serviceId !== undefined && services.length === 0) throw unknownService(serviceId);
      const out: Record<
        string,
        { derived: Record<string, string>; declared?: Record<string, string>; notes: string[] }
      > = {};
      for (const service of services) {
        const { templates, notes } = derivePrefetch(
          servedVersions(service),
          knowledge.valueSets,
          config.prefetchMaxTemplate,
        );
        out[service.definition.id] = { derived: templates, declared: service.definition.prefetch, notes };
      }
      if (options.json) {
        io.stdout(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      for (const [id, { derived, notes }] of Object.entries(out)) {
        io.stdout(`${id}\n`);
        for (const [key, template] of Object.entries(derived)) io.stdout(`  ${key}: ${template}\n`);
        for (const note of notes) io.stdout(`  note: ${note}\n`);
      }
    });
}
