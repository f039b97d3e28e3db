// A service's rollout (cds-services.json `rollout`): shadow versions, one randomised experiment and
// the shadow time required before release, checked against the loaded rule sets and resolved into
// the versions the serving side evaluates.
import type { ErrorObject } from 'ajv';
import { calendarMs } from '../calendar.js';
import { canonicalJson, sha256 } from './files.js';
import { checkParameters } from './parameters.js';
import { describeAjvError } from './schemas.js';
import {
  fingerprintKey,
  type Experiment,
  type ExperimentArm,
  type ExperimentDefinition,
  type Rollout,
  type RuleSet,
  type ServedFingerprints,
  type Service,
  type ServiceDefinition,
} from './types.js';

/** A rollout problem at a JSON pointer relative to the service (e.g. /rollout/shadow/0/version). */
export interface RolloutProblem {
  pointer: string;
  message: string;
}

export interface RolloutOptions {
  /** A rule set version by version: loaded, its problems (it has errors), or undefined (no such file). */
  find: (version: string) => RuleSet | string[] | undefined;
  serveDrafts: boolean;
  served?: ServedFingerprints;
}

/** The fingerprint an experiment's assignments are recorded under: its id, version 'arms'. */
export function experimentFingerprintKey(id: string): string {
  return fingerprintKey({ kind: 'experiment', name: id, version: 'arms' });
}

/** Content hash of what an experiment may not change once it has assigned a call: unit, arms, weights, show. */
export function experimentHash(experiment: Pick<ExperimentDefinition, 'unit' | 'arms'>): string {
  const arms = experiment.arms.map((a) => ({
    name: a.name,
    version: a.version,
    weight: a.weight,
    show: a.show !== false,
  }));
  return sha256(canonicalJson({ unit: experiment.unit, arms }));
}

/** Checks a service's rollout and resolves its versions; `rollout` is set only when there are no problems. */
export function resolveRollout(
  definition: ServiceDefinition,
  options: RolloutOptions,
): { rollout?: Rollout; problems: RolloutProblem[] } {
  const declared = definition.rollout;
  if (!declared) return { problems: [] };
  const problems: RolloutProblem[] = [];
  const ruleSetId = definition.knowledge.ruleSet;
  const version = (role: string, wanted: string, pointer: string): RuleSet | undefined => {
    const found = options.find(wanted);
    const name = `rule set ${ruleSetId}@${wanted}`;
    const fail = (message: string): undefined => {
      problems.push({ pointer, message: `${role}: ${message}` });
      return undefined;
    };
    if (found === undefined) return fail(`${name} not found (expected rules/${ruleSetId}/${wanted}.json)`);
    if (Array.isArray(found)) {
      const count = `${found.length} problem${found.length === 1 ? '' : 's'}`;
      return fail(`${name} has errors and cannot be evaluated (${count})`);
    }
    if (found.status === 'retired') return fail(`${name} is retired: a retired version is never evaluated`);
    for (const reason of checkParameters(definition, found)) fail(reason);
    return found;
  };

  const shadows: RuleSet[] = [];
  const shadowVersions = new Set<string>();
  (declared.shadow ?? []).forEach(({ version: wanted }, i) => {
    const pointer = `/rollout/shadow/${i}/version`;
    if (wanted === definition.knowledge.version) {
      problems.push({
        pointer,
        message: `shadow version ${wanted} is the live version (knowledge.version): a shadow is a version not shown`,
      });
      return;
    }
    if (shadowVersions.has(wanted)) {
      problems.push({ pointer, message: `shadow version ${wanted} is listed twice` });
      return;
    }
    shadowVersions.add(wanted);
    const ruleSet = version(`shadow version ${wanted}`, wanted, pointer);
    if (ruleSet) shadows.push(ruleSet);
  });

  const experiment = declared.experiment
    ? resolveExperiment(declared.experiment, version, problems, options)
    : undefined;
  if (problems.length > 0) return { problems };
  return {
    rollout: {
      shadows,
      ...(experiment ? { experiment } : {}),
      ...(declared.releaseAfter ? { releaseAfter: declared.releaseAfter } : {}),
    },
    problems,
  };
}

function resolveExperiment(
  declared: ExperimentDefinition,
  version: (role: string, wanted: string, pointer: string) => RuleSet | undefined,
  problems: RolloutProblem[],
  { serveDrafts, served }: RolloutOptions,
): Experiment | undefined {
  const at = '/rollout/experiment';
  const arms: ExperimentArm[] = [];
  const names = new Set<string>();
  declared.arms.forEach((arm, i) => {
    if (names.has(arm.name)) {
      problems.push({ pointer: `${at}/arms/${i}/name`, message: `experiment arm name '${arm.name}' is used twice` });
    }
    names.add(arm.name);
    const show = arm.show !== false;
    const ruleSet = version(`experiment arm '${arm.name}'`, arm.version, `${at}/arms/${i}/version`);
    if (!ruleSet) return;
    if (show && ruleSet.status === 'draft' && !serveDrafts) {
      problems.push({
        pointer: `${at}/arms/${i}/version`,
        message:
          `experiment arm '${arm.name}': rule set ${ruleSet.id}@${ruleSet.version} is a draft, ` +
          'and a shown arm is served to EHRs: ' +
          'release it (cds release), or give the arm show: false (drafts are shown only with CDS_SERVE_DRAFTS=on)',
      });
    }
    arms.push({ name: arm.name, weight: arm.weight, show, ruleSet });
  });
  const start = declared.start === undefined ? undefined : new Date(calendarMs(declared.start));
  const end = declared.end === undefined ? undefined : new Date(calendarMs(declared.end));
  if (start && end && !(start.getTime() < end.getTime())) {
    problems.push({
      pointer: `${at}/end`,
      message: `experiment end (${declared.end}) must be after its start (${declared.start})`,
    });
  }
  const hash = experimentHash(declared);
  const first = served?.get(experimentFingerprintKey(declared.id));
  if (first && first.hash !== hash) {
    const since = first.firstServedAt ? ` (it first assigned a call ${first.firstServedAt})` : '';
    problems.push({
      pointer: at,
      message:
        `experiment '${declared.id}' has started${since} and its unit, arms or weights have changed since: ` +
        'an experiment never changes once it has assigned calls; restore it, or make a new experiment id',
    });
  }
  if (arms.length !== declared.arms.length) return undefined;
  return { id: declared.id, unit: declared.unit, arms, ...(start ? { start } : {}), ...(end ? { end } : {}), hash };
}

/**
 * Experiment ids across services: two services may run the same experiment (one unit gets the same
 * arm in both) only when they declare it identically. The first declaration is the reference.
 */
export function createExperimentRegistry(): (
  serviceId: string,
  experiment: ExperimentDefinition,
) => RolloutProblem | undefined {
  const seen = new Map<string, { serviceId: string; identity: string }>();
  return (serviceId, experiment) => {
    const arms = experiment.arms.map((a) => ({
      name: a.name,
      version: a.version,
      weight: a.weight,
      show: a.show !== false,
    }));
    const identity = canonicalJson({ unit: experiment.unit, arms, start: experiment.start, end: experiment.end });
    const earlier = seen.get(experiment.id);
    if (!earlier) {
      seen.set(experiment.id, { serviceId, identity });
      return undefined;
    }
    if (earlier.identity === identity) return undefined;
    return {
      pointer: '/rollout/experiment/id',
      message:
        `experiment '${experiment.id}' is also declared by service '${earlier.serviceId}' ` +
        'with another unit, arms, start or end: ' +
        'services share an experiment only when they declare it identically (or use another experiment id)',
    };
  };
}

/** A schema error inside a service's rollout, in the words of what is wrong there. */
export function describeRolloutSchemaError(e: ErrorObject, rollout: unknown): string {
  const inside = e.instancePath.replace(/^\/services\/\d+\/rollout/, '');
  if (e.keyword === 'type' && inside === '/experiment') {
    return 'must be one object: a service runs one experiment at a time';
  }
  const arm = /^\/experiment\/arms\/(\d+)$/.exec(inside);
  if (arm && e.keyword === 'required' && (e.params as { missingProperty?: string }).missingProperty === 'version') {
    const declared = (rollout as { experiment?: { arms?: Array<{ show?: unknown }> } }).experiment?.arms?.[
      Number(arm[1])
    ];
    if (declared?.show === false) {
      return (
        "missing required property 'version': " +
        'an arm with show: false is still evaluated (its cards are recorded, never sent)'
      );
    }
  }
  return describeAjvError(e);
}

/** Every version a service may evaluate: the live one, its experiment arms and its shadows, each once. */
export function servedVersions(service: Pick<Service, 'ruleSet' | 'rollout'>): RuleSet[] {
  const all = [
    service.ruleSet,
    ...(service.rollout?.experiment?.arms.map((a) => a.ruleSet) ?? []),
    ...(service.rollout?.shadows ?? []),
  ];
  return [...new Set(all)];
}
