// Every experiment the knowledge declares or the ledger has calls of, with its status and counts
// (GET /uptake/experiments).
import { sql, type Kysely } from 'kysely';
import {
  experimentStatus,
  type ExperimentPlan,
  type ExperimentStatus,
  type ExperimentStop,
} from './experiment-plan.js';
import type { UptakeDatabase } from './schema.js';

export interface ExperimentSummary {
  id: string;
  services: string[];
  declared: boolean;
  unit: string | null;
  arms: Array<{ name: string; version: string | null; weight: number; show: boolean }> | null;
  start: string | null;
  end: string | null;
  status: ExperimentStatus;
  stopped: ExperimentStop | null;
  firstCall: string | null;
  lastCall: string | null;
  callsInExperiment: number | null;
  callsNotInExperiment: number | null;
  units: number | null;
  cardsShown: number | null;
  suppressed?: string[];
}

export interface ExperimentList {
  generatedAt: string;
  minCell: number;
  experiments: ExperimentSummary[];
}

type Row = Record<string, unknown>;

export async function experimentList(
  db: Kysely<UptakeDatabase>,
  { plans, now = new Date() }: { plans: ExperimentPlan[]; now?: Date },
): Promise<ExperimentList> {
  const run = async (q: ReturnType<typeof sql>): Promise<Row[]> => (await q.execute(db)).rows as Row[];
  const [calls, units, cards, stops] = await Promise.all([
    run(sql`
      SELECT experiment_id AS id, service_id AS service,
        CASE WHEN experiment_arm IS NULL THEN 0 ELSE 1 END AS in_experiment,
        COUNT(*) AS calls, MIN(started_at) AS first, MAX(started_at) AS last
      FROM uptake_invocation WHERE experiment_id IS NOT NULL
      GROUP BY experiment_id, service_id, CASE WHEN experiment_arm IS NULL THEN 0 ELSE 1 END`),
    run(sql`
      SELECT experiment_id AS id, COUNT(DISTINCT experiment_unit) AS units FROM uptake_invocation
      WHERE experiment_id IS NOT NULL AND experiment_arm IS NOT NULL GROUP BY experiment_id`),
    run(sql`
      SELECT i.experiment_id AS id, COUNT(*) AS cards
      FROM uptake_card c JOIN uptake_invocation i ON i.id = c.invocation_id
      WHERE i.experiment_id IS NOT NULL AND i.experiment_arm IS NOT NULL AND c.disposition = 'shown'
      GROUP BY i.experiment_id`),
    run(sql`SELECT experiment_id AS id, stopped_at, stopped_by, reason FROM experiment_stop`),
  ]);
  const ids = new Set<string>([
    ...plans.map((p) => p.id),
    ...calls.map((r) => String(r.id)),
    ...stops.map((r) => String(r.id)),
  ]);
  const experiments: ExperimentSummary[] = [...ids].sort().map((id) => {
    const plan = plans.find((p) => p.id === id);
    const mine = calls.filter((r) => r.id === id);
    const stopRow = stops.find((r) => r.id === id);
    const stop: ExperimentStop | undefined = stopRow
      ? {
          at: new Date(Number(stopRow.stopped_at)).toISOString(),
          by: (stopRow.stopped_by as string | null) ?? null,
          reason: (stopRow.reason as string | null) ?? null,
        }
      : undefined;
    const sum = (inExperiment: number) =>
      mine.filter((r) => Number(r.in_experiment) === inExperiment).reduce((s, r) => s + Number(r.calls), 0);
    const iso = (ms: number | undefined) =>
      ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
    return {
      id,
      services: [...new Set([...(plan?.services ?? []), ...mine.map((r) => String(r.service))])].sort(),
      declared: plan !== undefined,
      unit: plan?.unit ?? null,
      arms: plan
        ? plan.arms.map((a) => ({ name: a.name, version: a.version ?? null, weight: a.weight, show: a.show }))
        : null,
      start: plan?.start?.toISOString() ?? null,
      end: plan?.end?.toISOString() ?? null,
      status: experimentStatus(plan, stop, now),
      stopped: stop ?? null,
      firstCall: iso(mine.length > 0 ? Math.min(...mine.map((r) => Number(r.first))) : undefined),
      lastCall: iso(mine.length > 0 ? Math.max(...mine.map((r) => Number(r.last))) : undefined),
      callsInExperiment: sum(1),
      callsNotInExperiment: sum(0),
      units: Number(units.find((r) => r.id === id)?.units ?? 0),
      cardsShown: Number(cards.find((r) => r.id === id)?.cards ?? 0),
    };
  });
  return { generatedAt: now.toISOString(), minCell: 1, experiments };
}

/** Counts from 1 to k−1 withheld (null, named in `suppressed`), as in every export. */
export function suppressExperimentList(list: ExperimentList, k: number): ExperimentList {
  if (k <= 1) return { ...list, minCell: 1 };
  const small = (n: number | null) => n !== null && n > 0 && n < k;
  return {
    ...list,
    minCell: k,
    experiments: list.experiments.map((e) => {
      const fields = (['callsInExperiment', 'callsNotInExperiment', 'units', 'cardsShown'] as const).filter((f) =>
        small(e[f]),
      );
      if (fields.length === 0) return e;
      const out: ExperimentSummary = { ...e, suppressed: [...fields] };
      for (const f of fields) out[f] = null;
      return out;
    }),
  };
}
