// What the knowledge declares about an experiment, as the reports need it: arms in their declared
// order (the first is the reference), weights (for the sample-ratio check), unit and dates.
import { calendarMs } from '../calendar.js';
import type {
  Experiment,
  ExperimentDefinition,
  ExperimentUnit,
  Service,
  ServiceDefinition,
} from '../knowledge/index.js';

export interface ExperimentPlan {
  id: string;
  /** The services that declare it. */
  services: string[];
  unit?: ExperimentUnit;
  arms: Array<{ name: string; version?: string; weight: number; show: boolean }>;
  start?: Date;
  end?: Date;
}

export type ExperimentStatus = 'scheduled' | 'running' | 'ended' | 'stopped';

export interface ExperimentStop {
  at: string;
  by: string | null;
  reason: string | null;
}

function date(value: string | Date | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = value instanceof Date ? value : new Date(calendarMs(value));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function fromDefinition(service: string, e: ExperimentDefinition): ExperimentPlan {
  return {
    id: e.id,
    services: [service],
    unit: e.unit,
    arms: (e.arms ?? []).map((a) => ({ name: a.name, version: a.version, weight: a.weight, show: a.show !== false })),
    start: date(e.start),
    end: date(e.end),
  };
}

function fromExperiment(service: string, e: Experiment): ExperimentPlan {
  return {
    id: e.id,
    services: [service],
    unit: e.unit,
    arms: e.arms.map((a) => ({ name: a.name, version: a.ruleSet.version, weight: a.weight, show: a.show })),
    start: e.start,
    end: e.end,
  };
}

function merge(plans: ExperimentPlan[]): ExperimentPlan[] {
  const byId = new Map<string, ExperimentPlan>();
  for (const p of plans) {
    const known = byId.get(p.id);
    if (!known) byId.set(p.id, p);
    else if (!known.services.includes(p.services[0])) known.services.push(p.services[0]);
  }
  return [...byId.values()];
}

/** The experiments of the services being served (the loaded rollout, else the declared one). */
export function plansOfServices(services: Service[]): ExperimentPlan[] {
  const plans: ExperimentPlan[] = [];
  for (const s of services) {
    const loaded = s.rollout?.experiment;
    const declared = s.definition.rollout?.experiment;
    if (loaded) plans.push(fromExperiment(s.definition.id, loaded));
    else if (declared && typeof declared.id === 'string') plans.push(fromDefinition(s.definition.id, declared));
  }
  return merge(plans);
}

/** The experiments declared in cds-services.json (what the command line reads, without compiling anything). */
export function plansOfDefinitions(definitions: ServiceDefinition[]): ExperimentPlan[] {
  const plans: ExperimentPlan[] = [];
  for (const d of definitions) {
    const e = d.rollout?.experiment;
    if (e && typeof e.id === 'string' && Array.isArray(e.arms)) plans.push(fromDefinition(d.id, e));
  }
  return merge(plans);
}

/**
 * Stopped (stored) wins; then the declared dates; an experiment the knowledge no longer declares
 * is no longer served, so it has ended.
 */
export function experimentStatus(
  plan: ExperimentPlan | undefined,
  stop: ExperimentStop | undefined,
  now: Date,
): ExperimentStatus {
  if (stop) return 'stopped';
  if (!plan) return 'ended';
  if (plan.start && now < plan.start) return 'scheduled';
  if (plan.end && now >= plan.end) return 'ended';
  return 'running';
}
