// cds request <service> --patient <bundle> [--draft <resource>]... [--out file]: a complete hook
// request for a service, made from a patient's record in a file: the context the service's hook
// needs, and every prefetch key filled by the service's own templates, as an EHR would send it.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { badRequest, unknownService, unreadableRequestFile } from '../errors.js';
import { validateHookRequest } from '../hooks/index.js';
import { prefetchFromResources, type LocalResource, type LocalValueSets } from '../prefetch/local-search.js';
import type { ServiceDefinition } from '../knowledge/index.js';
import type { CliIo } from './io.js';
import { declaredServices, knowledgeDir, loadFrom } from './knowledge.js';

interface RequestOptions {
  patient: string;
  draft: string[];
  select?: string[];
  user?: string;
  encounter?: string;
  fhirServer: string;
  out?: string;
  dir?: string;
}

/** The hooks whose context can be made from a record and draft orders. */
const ORDER_HOOKS = ['order-select', 'order-sign'];
const ENCOUNTER_HOOKS = ['encounter-start', 'encounter-discharge'];
const SUPPORTED_HOOKS = ['patient-view', ...ORDER_HOOKS, ...ENCOUNTER_HOOKS];

export function requestCommand(io: CliIo, env: NodeJS.ProcessEnv): Command {
  return new Command('request')
    .description("write a hook request for a service from a patient's record: every prefetch key filled")
    .argument('<service>', 'service id (from cds-services.json)')
    .requiredOption('-p, --patient <bundle>', "the patient's record: a FHIR R4 Bundle with one Patient")
    .option('--draft <resource>', 'a draft order (FHIR resource, or a Bundle of them); repeatable', collect, [])
    .option('--select <Type/id>', 'order-select: a selected draft (default: every draft); repeatable', collect)
    .option('--user <Type/id>', 'userId (default: the first Practitioner of the record, else Practitioner/example)')
    .option('--encounter <id>', 'encounterId (default: the in-progress, else the latest, Encounter of the record)')
    .option('--fhir-server <url>', 'base URL used in the searchset Bundles', 'https://ehr.example.org/fhir')
    .option('-o, --out <file>', 'write the request here (default: stdout)')
    .option('-d, --dir <dir>', 'knowledge directory (default: CDS_KNOWLEDGE_DIR or the shipped knowledge)')
    .action(async (serviceId: string, options: RequestOptions) => {
      const dir = knowledgeDir(options.dir, env);
      const declared = declaredServices(dir, io).find((s) => s.id === serviceId);
      if (!declared) throw unknownService(serviceId);
      // "prefetch": "derive": the templates the loader derives from the service's CQL; a value set search
      // (`code:in=<url>`) is answered from the knowledge's value sets.
      const derive = (declared.prefetch as unknown) === 'derive';
      const needsKnowledge = derive || Object.values(declared.prefetch ?? {}).some((t) => /:in=/.test(String(t)));
      const knowledge = needsKnowledge ? await loadFrom(dir) : undefined;
      const service = derive
        ? {
            ...declared,
            prefetch: knowledge?.services.find((s) => s.definition.id === serviceId)?.definition.prefetch,
          }
        : declared;
      const request = buildRequest(service, options, knowledge?.valueSets);
      // What is written is what the server would accept: checked as a call would be.
      validateHookRequest(request, [service.hook]);
      const text = `${JSON.stringify(request, null, 2)}\n`;
      if (options.out) {
        writeFileSync(options.out, text);
        io.stderr(`wrote a ${service.hook} request for ${service.id} to ${options.out}\n`);
      } else io.stdout(text);
    });
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function buildRequest(
  service: ServiceDefinition,
  options: RequestOptions,
  valueSets?: LocalValueSets,
): Record<string, unknown> {
  if (!SUPPORTED_HOOKS.includes(service.hook)) {
    throw badRequest(
      `cds request makes requests for ${SUPPORTED_HOOKS.join(', ')}; service '${service.id}' is a ${service.hook} service`,
    );
  }
  const record = resourcesOf(readJsonFile(options.patient), options.patient);
  const patients = record.filter((r) => r.resourceType === 'Patient');
  if (patients.length !== 1) {
    throw badRequest(`${options.patient} must hold exactly one Patient resource (it holds ${patients.length})`);
  }
  const patientId = patients[0].id;
  const drafts = options.draft.flatMap((file) => resourcesOf(readJsonFile(file), file));
  if (drafts.length > 0 && !ORDER_HOOKS.includes(service.hook)) {
    throw badRequest(
      `--draft is for order-select and order-sign services; '${service.id}' is a ${service.hook} service`,
    );
  }
  if (ORDER_HOOKS.includes(service.hook) && drafts.length === 0) {
    throw badRequest(`a ${service.hook} request needs at least one --draft order`);
  }
  const practitioner = record.find((r) => r.resourceType === 'Practitioner');
  const userId = options.user ?? (practitioner ? `Practitioner/${practitioner.id}` : 'Practitioner/example');
  const encounterId = options.encounter ?? currentEncounter(record);
  if (ENCOUNTER_HOOKS.includes(service.hook) && !encounterId) {
    throw badRequest(`a ${service.hook} request needs an encounter: the record has none; give --encounter <id>`);
  }
  const context: Record<string, unknown> = { userId, patientId, ...(encounterId ? { encounterId } : {}) };
  if (ORDER_HOOKS.includes(service.hook)) {
    if (service.hook === 'order-select') {
      const selections = options.select ?? drafts.map((d) => `${d.resourceType}/${d.id}`);
      const unknown = selections.filter((s) => !drafts.some((d) => `${d.resourceType}/${d.id}` === s));
      if (unknown.length > 0) throw badRequest(`--select ${unknown.join(', ')}: not among the drafts`);
      context.selections = selections;
    }
    context.draftOrders = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: drafts.map((resource) => ({ resource })),
    };
  }
  return {
    hookInstance: randomUUID(),
    hook: service.hook,
    context,
    prefetch: prefetchFromResources(service.prefetch ?? {}, [...record, ...drafts], context, options.fhirServer, {
      valueSets,
    }),
  };
}

function readJsonFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw unreadableRequestFile(file, (err as Error).message);
  }
}

/** The resources of a Bundle, or the one resource given. */
function resourcesOf(json: unknown, file: string): LocalResource[] {
  const isResource = (r: unknown): r is LocalResource =>
    typeof r === 'object' &&
    r !== null &&
    typeof (r as LocalResource).resourceType === 'string' &&
    typeof (r as LocalResource).id === 'string';
  if (isResource(json) && json.resourceType === 'Bundle') {
    const entries = Array.isArray(json.entry) ? (json.entry as Array<{ resource?: unknown }>) : [];
    const resources = entries.map((e) => e.resource);
    const bad = resources.findIndex((r) => !isResource(r));
    if (bad >= 0) throw badRequest(`${file}: entry[${bad}].resource must be a FHIR resource with resourceType and id`);
    return resources as LocalResource[];
  }
  if (isResource(json)) return [json];
  throw badRequest(`${file} must be a FHIR resource or Bundle, each resource with resourceType and id`);
}

function currentEncounter(record: LocalResource[]): string | undefined {
  const encounters = record.filter((r) => r.resourceType === 'Encounter');
  const start = (e: LocalResource) => Date.parse((e.period as { start?: string } | undefined)?.start ?? '') || 0;
  const inProgress = encounters.filter((e) => e.status === 'in-progress').sort((a, b) => start(b) - start(a));
  return (inProgress[0] ?? [...encounters].sort((a, b) => start(b) - start(a))[0])?.id;
}
