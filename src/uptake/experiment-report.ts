// The report of a randomised experiment, by assigned arm (intention to treat): every call the
// service assigned to an arm counts for that arm, whatever happened next. The CLI and
// GET /uptake/experiments/{id} both call experimentReport; exports then suppress small cells.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { ExperimentPlan, ExperimentStatus, ExperimentStop } from './experiment-plan.js';
import { experimentStatus } from './experiment-plan.js';
import { round, wilson, type Rate } from './report.js';
import type { UptakeDatabase } from './schema.js';
import { cardCompletion, completionState, CompletionTally, type CompletionFigures } from './completion.js';
import {
  alwaysValid,
  ClusterAccumulator,
  differenceOfProportions,
  lookAt,
  MIN_UNITS_PER_LOOK,
  MIXING_VARIANCE,
  sampleRatioMismatch,
  SRM_THRESHOLD,
  type Look,
} from './statistics.js';

export interface ExperimentReportOptions {
  /** The experiment as the knowledge declares it: arm order, weights, unit, dates. */
  plan?: ExperimentPlan;
  /** Calls started at or after / before these instants. */
  from?: Date;
  to?: Date;
  now?: Date;
}

export interface ArmFigures {
  arm: string;
  version: string | null;
  weight: number | null;
  /** false for an arm whose cards are recorded but never sent (show: false). */
  shown: boolean | null;
  units: number | null;
  calls: number | null;
  failedCalls: number | null;
  /** Calls whose arm's evaluation produced cards, shown or suppressed. */
  evaluationsWithCards: number | null;
  cardsShown: number | null;
  firingPer100Calls: number | null;
  cardsWithFeedback: number | null;
  feedbackCoverage: number | null;
  accepted: number | null;
  overridden: number | null;
  acceptance: Rate;
  /**
   * Whether what the arm's cards suggested was done, over its shown and suppressed cards alike: a control arm's
   * cards are never sent, so its completion is what happens without the card.
   */
  completion: CompletionFigures;
  suppressed?: string[];
}

export interface DifferenceFigures {
  /** arm − reference. */
  difference: number | null;
  /** 95 % interval, cluster-robust by unit. */
  low: number | null;
  high: number | null;
  standardError: number | null;
  method: string | null;
  /** mSPRT over daily looks from the first call: a p-value and a 95 % confidence sequence valid at any look. */
  alwaysValid: { pValue: number | null; low: number | null; high: number | null; looks: number | null };
}

export interface Comparison {
  arm: string;
  reference: string;
  /** Difference in acceptance (accepted ÷ cards with feedback); the clusters are units with such cards. */
  acceptance: DifferenceFigures;
  /** Difference in firing (evaluations with cards ÷ calls). */
  firing: DifferenceFigures;
  /** Difference in completion (completed ÷ decided cards, shown or suppressed); clusters are units with such cards. */
  completion: DifferenceFigures;
  suppressed?: string[];
}

export interface SampleRatioFigures {
  arms: string[];
  weights: number[];
  expectedShares: number[];
  chiSquare: number | null;
  degreesOfFreedom: number;
  pValue: number | null;
  flagged: boolean | null;
  suppressed?: string[];
}

export interface ExperimentSection {
  arms: ArmFigures[];
  comparisons: Comparison[];
  /** Units per arm against the weights; null without declared weights or without units. */
  sampleRatio: SampleRatioFigures | null;
}

export interface SiteSection extends ExperimentSection {
  site: { iss: string | null; tenant: string | null };
}

export interface ExperimentReport extends ExperimentSection {
  generatedAt: string;
  experiment: {
    id: string;
    services: string[];
    /** Whether the knowledge being served declares it. */
    declared: boolean;
    unit: string | null;
    status: ExperimentStatus;
    start: string | null;
    end: string | null;
    stopped: ExperimentStop | null;
    /** First and last call of the experiment's services while it was declared (in it or not). */
    firstCall: string | null;
    lastCall: string | null;
  };
  query: { from?: string; to?: string };
  /** Small-cell threshold applied (1 = nothing suppressed). */
  minCell: number;
  methods: {
    analysis: 'intention to treat (assigned arm)';
    reference: string | null;
    interval: string;
    alwaysValid: string;
    mixingVariance: number;
    minUnitsPerLook: number;
    sampleRatioThreshold: number;
  };
  /** Calls of the experiment's services that were not in it, by reason. */
  callsNotInExperiment: Array<{ reason: string; calls: number | null }>;
  /** Units found in more than one arm (should be 0: assignment is deterministic). */
  unitsInSeveralArms: number | null;
  sites: SiteSection[];
  notes: string[];
  suppressed?: string[];
}

const DAY_MS = 86_400_000;

type Row = Record<string, unknown>;

interface Cell {
  arm: string;
  unit: string;
  iss: string | null;
  tenant: string | null;
  day: number;
  /** The first call's time (ms). */
  first: number;
  calls: number;
  failed: number;
  fired: number;
  cards: number;
  withFeedback: number;
  accepted: number;
  overridden: number;
  /** (feedback outcome, completion state, evidence seen, cards) of the cell's shown and suppressed cards. */
  completion: Array<{ outcome: string | null; state: string; evidenced: boolean; n: number }>;
  completed: number;
  decided: number;
  /** Times to completion (ms) of its completed cards. */
  times: number[];
}

interface ArmInfo {
  name: string;
  version: string | null;
  weight: number | null;
  shown: boolean | null;
}

/** The experiment's report, or undefined when neither the knowledge (plan) nor the ledger knows it. */
export async function experimentReport(
  db: Kysely<UptakeDatabase>,
  experimentId: string,
  options: ExperimentReportOptions = {},
): Promise<ExperimentReport | undefined> {
  const { plan, from, to, now = new Date() } = options;
  const run = async (q: RawBuilder<unknown>): Promise<Row[]> => (await q.execute(db)).rows as Row[];
  const window = (column: string) =>
    sql.join(
      [
        sql`1 = 1`,
        ...(from ? [sql`${sql.ref(column)} >= ${from.getTime()}`] : []),
        ...(to ? [sql`${sql.ref(column)} < ${to.getTime()}`] : []),
      ],
      sql` AND `,
    );
  const inExperiment = sql`CASE WHEN experiment_arm IS NULL THEN 0 ELSE 1 END`;
  const [calls, stops, versions] = await Promise.all([
    run(sql`
      SELECT service_id AS service, experiment_reason AS reason, ${inExperiment} AS in_experiment,
        COUNT(*) AS calls, MIN(started_at) AS first, MAX(started_at) AS last
      FROM uptake_invocation WHERE experiment_id = ${experimentId} AND ${window('started_at')}
      GROUP BY service_id, experiment_reason, ${inExperiment}`),
    run(sql`SELECT stopped_at, stopped_by, reason FROM experiment_stop WHERE experiment_id = ${experimentId}`),
    run(sql`
      SELECT arm, rule_set_version AS version, COUNT(*) AS n,
        SUM(CASE WHEN disposition = 'suppressed' THEN 1 ELSE 0 END) AS suppressed
      FROM uptake_evaluation
      WHERE experiment_id = ${experimentId} AND arm IS NOT NULL AND disposition IN ('shown', 'suppressed')
        AND ${window('evaluated_at')}
      GROUP BY arm, rule_set_version`),
  ]);
  if (!plan && calls.length === 0 && stops.length === 0) {
    // Known to the ledger only through calls outside the period asked for?
    const any = await run(sql`SELECT 1 AS found FROM uptake_invocation WHERE experiment_id = ${experimentId} LIMIT 1`);
    if (any.length === 0) return undefined;
  }

  const inCalls = calls.filter((r) => Number(r.in_experiment) === 1);
  const firstIn = inCalls.length > 0 ? Math.min(...inCalls.map((r) => Number(r.first))) : undefined;
  const cells = firstIn === undefined ? [] : await experimentCells(run, experimentId, firstIn, window, now);

  const stopRow = stops[0];
  const stop: ExperimentStop | undefined = stopRow
    ? {
        at: new Date(Number(stopRow.stopped_at)).toISOString(),
        by: (stopRow.stopped_by as string | null) ?? null,
        reason: (stopRow.reason as string | null) ?? null,
      }
    : undefined;
  const arms = armOrder(plan, cells, versions);
  const reference = arms[0]?.name ?? null;
  const notReasons = new Map<string, number>();
  for (const r of calls.filter((c) => Number(c.in_experiment) === 0)) {
    const reason = (r.reason as string | null) ?? 'unknown';
    notReasons.set(reason, (notReasons.get(reason) ?? 0) + Number(r.calls));
  }
  const armsOfUnit = new Map<string, Set<string>>();
  for (const c of cells) armsOfUnit.set(c.unit, (armsOfUnit.get(c.unit) ?? new Set()).add(c.arm));

  const notes: string[] = [];
  if (!plan)
    notes.push(
      'the knowledge being served does not declare this experiment: arms are in the order of their first call, ' +
        'and without weights there is no sample-ratio check',
    );
  if (arms.length < 2) notes.push('fewer than two arms have calls: there is nothing to compare');
  notes.push(`the always-valid p-value counts a daily look once each arm has ${MIN_UNITS_PER_LOOK} units with data`);

  const sites = new Map<string, { iss: string | null; tenant: string | null; cells: Cell[] }>();
  for (const c of cells) {
    const key = JSON.stringify([c.iss, c.tenant]);
    const site = sites.get(key) ?? { iss: c.iss, tenant: c.tenant, cells: [] };
    site.cells.push(c);
    sites.set(key, site);
  }
  const services = [...new Set([...(plan?.services ?? []), ...calls.map((r) => String(r.service))])].sort();
  const firstCall = calls.length > 0 ? Math.min(...calls.map((r) => Number(r.first))) : undefined;
  const lastCall = calls.length > 0 ? Math.max(...calls.map((r) => Number(r.last))) : undefined;

  return {
    generatedAt: now.toISOString(),
    experiment: {
      id: experimentId,
      services,
      declared: plan !== undefined,
      unit: plan?.unit ?? null,
      status: experimentStatus(plan, stop, now),
      start: plan?.start?.toISOString() ?? null,
      end: plan?.end?.toISOString() ?? null,
      stopped: stop ?? null,
      firstCall: firstCall === undefined ? null : new Date(firstCall).toISOString(),
      lastCall: lastCall === undefined ? null : new Date(lastCall).toISOString(),
    },
    query: { ...(from ? { from: from.toISOString() } : {}), ...(to ? { to: to.toISOString() } : {}) },
    minCell: 1,
    methods: {
      analysis: 'intention to treat (assigned arm)',
      reference,
      interval:
        'difference of ratio estimators, 95 % Wald interval with a cluster-robust (CR1) standard error by ' +
        'randomisation unit; binomial when every unit has one trial',
      alwaysValid:
        'normal-mixture mSPRT (Johari, Pekelis and Walsh 2022) over daily looks from the first call: ' +
        'p = min(1, 1 / max Λ); 95 % confidence sequence',
      mixingVariance: MIXING_VARIANCE,
      minUnitsPerLook: MIN_UNITS_PER_LOOK,
      sampleRatioThreshold: SRM_THRESHOLD,
    },
    callsNotInExperiment: [...notReasons]
      .map(([reason, n]) => ({ reason, calls: n }))
      .sort((a, b) => a.reason.localeCompare(b.reason)),
    unitsInSeveralArms: [...armsOfUnit.values()].filter((s) => s.size > 1).length,
    ...section(cells, arms),
    sites: [...sites.values()]
      .sort(
        (a, b) =>
          String(a.iss ?? '').localeCompare(String(b.iss ?? '')) ||
          String(a.tenant ?? '').localeCompare(String(b.tenant ?? '')),
      )
      .map((s) => ({ site: { iss: s.iss, tenant: s.tenant }, ...section(s.cells, arms) })),
    notes,
  };
}

/** Calls and shown cards per arm, unit, site and day (counted from the first call in the experiment). */
async function experimentCells(
  run: (q: RawBuilder<unknown>) => Promise<Row[]>,
  experimentId: string,
  firstIn: number,
  window: (column: string) => RawBuilder<unknown>,
  now: Date,
): Promise<Cell[]> {
  // `first` is a number read from the database: inlined, so that the same expression groups on PostgreSQL.
  const day = (column: string) =>
    sql`CAST((${sql.ref(column)} - ${sql.lit(Math.trunc(firstIn))}) / ${sql.lit(DAY_MS)} AS INTEGER)`;
  const state = completionState('cc', now.getTime());
  const cellKeys = sql`i.experiment_arm AS arm, i.experiment_unit AS unit, i.client_iss AS iss, i.client_tenant AS tenant,
        ${day('i.started_at')} AS day`;
  const completionFrom = sql`FROM uptake_card JOIN uptake_invocation i ON i.id = uptake_card.invocation_id
      JOIN ${cardCompletion()} cc ON cc.card_uuid = uptake_card.card_uuid
      WHERE i.experiment_id = ${experimentId} AND i.experiment_arm IS NOT NULL
        AND uptake_card.disposition IN ('shown', 'suppressed') AND ${window('i.started_at')}`;
  const [callRows, cardRows, completionRows, timeRows] = await Promise.all([
    run(sql`
      SELECT i.experiment_arm AS arm, i.experiment_unit AS unit, i.client_iss AS iss, i.client_tenant AS tenant,
        ${day('i.started_at')} AS day,
        COUNT(*) AS calls, MIN(i.started_at) AS first,
        SUM(CASE WHEN i.status >= 400 THEN 1 ELSE 0 END) AS failed,
        SUM(CASE WHEN EXISTS (
          SELECT 1 FROM uptake_evaluation e
          WHERE e.invocation_id = i.id AND e.disposition IN ('shown', 'suppressed') AND e.card_count > 0
        ) THEN 1 ELSE 0 END) AS fired
      FROM uptake_invocation i
      WHERE i.experiment_id = ${experimentId} AND i.experiment_arm IS NOT NULL AND ${window('i.started_at')}
      GROUP BY i.experiment_arm, i.experiment_unit, i.client_iss, i.client_tenant, ${day('i.started_at')}`),
    run(sql`
      SELECT i.experiment_arm AS arm, i.experiment_unit AS unit, i.client_iss AS iss, i.client_tenant AS tenant,
        ${day('i.started_at')} AS day,
        COUNT(*) AS cards,
        SUM(CASE WHEN c.outcome IS NOT NULL THEN 1 ELSE 0 END) AS with_feedback,
        SUM(CASE WHEN c.outcome = 'accepted' THEN 1 ELSE 0 END) AS accepted,
        SUM(CASE WHEN c.outcome = 'overridden' THEN 1 ELSE 0 END) AS overridden
      FROM uptake_card c JOIN uptake_invocation i ON i.id = c.invocation_id
      WHERE i.experiment_id = ${experimentId} AND i.experiment_arm IS NOT NULL AND c.disposition = 'shown'
        AND ${window('i.started_at')}
      GROUP BY i.experiment_arm, i.experiment_unit, i.client_iss, i.client_tenant, ${day('i.started_at')}`),
    run(sql`
      SELECT ${cellKeys}, uptake_card.outcome AS outcome, ${state} AS state, cc.evidenced AS evidenced, COUNT(*) AS n
      ${completionFrom}
      GROUP BY i.experiment_arm, i.experiment_unit, i.client_iss, i.client_tenant, ${day('i.started_at')},
        uptake_card.outcome, ${state}, cc.evidenced`),
    run(sql`SELECT ${cellKeys}, cc.ttc AS ms ${completionFrom} AND cc.completed = 1`),
  ]);
  const cells = new Map<string, Cell>();
  const cellOf = (r: Row): Cell => {
    const c = {
      arm: String(r.arm),
      // A call in the experiment always has its unit; without one, its calls are one unit.
      unit: (r.unit as string | null) ?? '(no unit)',
      iss: (r.iss as string | null) ?? null,
      tenant: (r.tenant as string | null) ?? null,
      day: Number(r.day),
    };
    const key = JSON.stringify([c.arm, c.unit, c.iss, c.tenant, c.day]);
    let cell = cells.get(key);
    if (!cell) {
      cell = {
        ...c,
        first: Infinity,
        calls: 0,
        failed: 0,
        fired: 0,
        cards: 0,
        withFeedback: 0,
        accepted: 0,
        overridden: 0,
        completion: [],
        completed: 0,
        decided: 0,
        times: [],
      };
      cells.set(key, cell);
    }
    return cell;
  };
  for (const r of callRows) {
    const cell = cellOf(r);
    cell.calls += Number(r.calls);
    cell.first = Math.min(cell.first, Number(r.first));
    cell.failed += Number(r.failed);
    cell.fired += Number(r.fired);
  }
  for (const r of cardRows) {
    const cell = cellOf(r);
    cell.cards += Number(r.cards);
    cell.withFeedback += Number(r.with_feedback);
    cell.accepted += Number(r.accepted);
    cell.overridden += Number(r.overridden);
  }
  for (const r of completionRows) {
    const cell = cellOf(r);
    const n = Number(r.n);
    const state = String(r.state);
    cell.completion.push({
      outcome: (r.outcome as string | null) ?? null,
      state,
      evidenced: Number(r.evidenced) === 1,
      n,
    });
    if (state === 'completed') cell.completed += n;
    if (state !== 'open') cell.decided += n;
  }
  for (const r of timeRows) cellOf(r).times.push(Number(r.ms));
  return [...cells.values()];
}

/** Declared arms in their order, then arms only the data has, in the order of their first call. */
function armOrder(plan: ExperimentPlan | undefined, cells: Cell[], versions: Row[]): ArmInfo[] {
  const out: ArmInfo[] = (plan?.arms ?? []).map((a) => ({
    name: a.name,
    version: a.version ?? null,
    weight: a.weight,
    shown: a.show,
  }));
  const firstCall = new Map<string, number>();
  for (const c of cells) firstCall.set(c.arm, Math.min(firstCall.get(c.arm) ?? Infinity, c.first));
  const extra = [...firstCall.keys()]
    .filter((a) => !out.some((o) => o.name === a))
    .sort((a, b) => firstCall.get(a)! - firstCall.get(b)! || a.localeCompare(b));
  for (const name of extra) {
    const rows = versions.filter((v) => v.arm === name).sort((a, b) => Number(b.n) - Number(a.n));
    out.push({
      name,
      version: rows[0] ? String(rows[0].version) : null,
      weight: null,
      shown: rows.length > 0 ? !rows.some((r) => Number(r.suppressed) > 0) : null,
    });
  }
  return out;
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator > 0 ? round(numerator / denominator) : null;
}

/** p-values keep two significant digits below 0.0001 rather than rounding to 0. */
export function roundP(p: number | null): number | null {
  if (p === null) return null;
  return p >= 0.0001 ? round(p) : Number(p.toPrecision(2));
}

function section(cells: Cell[], arms: ArmInfo[]): ExperimentSection {
  const figures: ArmFigures[] = arms.map((info) => {
    const mine = cells.filter((c) => c.arm === info.name);
    const sum = (
      k: keyof Pick<Cell, 'calls' | 'failed' | 'fired' | 'cards' | 'withFeedback' | 'accepted' | 'overridden'>,
    ) => mine.reduce((s, c) => s + c[k], 0);
    const calls = sum('calls');
    const fired = sum('fired');
    const cards = sum('cards');
    const withFeedback = sum('withFeedback');
    const accepted = sum('accepted');
    const overridden = sum('overridden');
    const completion = new CompletionTally();
    for (const c of mine) {
      for (const x of c.completion) completion.add(x.outcome, x.state, x.n, x.evidenced);
      for (const ms of c.times) completion.addTime(ms);
    }
    return {
      arm: info.name,
      version: info.version,
      weight: info.weight,
      shown: info.shown,
      units: new Set(mine.map((c) => c.unit)).size,
      calls,
      failedCalls: sum('failed'),
      evaluationsWithCards: fired,
      cardsShown: cards,
      firingPer100Calls: calls > 0 ? round((100 * fired) / calls, 2) : null,
      cardsWithFeedback: withFeedback,
      feedbackCoverage: ratio(withFeedback, cards),
      accepted,
      overridden,
      acceptance: wilson(accepted, accepted + overridden),
      completion: completion.figures(),
    };
  });

  const comparisons: Comparison[] = [];
  if (arms.length >= 2) {
    const byDay = new Map<number, Cell[]>();
    for (const c of cells) {
      const list = byDay.get(c.day);
      if (list) list.push(c);
      else byDay.set(c.day, [c]);
    }
    const days = [...byDay.keys()].sort((a, b) => a - b);
    const accumulators = new Map(
      arms.map((a) => [
        a.name,
        {
          acceptance: new ClusterAccumulator(),
          firing: new ClusterAccumulator(),
          completion: new ClusterAccumulator(),
        },
      ]),
    );
    const looks = new Map(
      arms.slice(1).map((a) => [
        a.name,
        {
          acceptance: [] as Array<Look | null>,
          firing: [] as Array<Look | null>,
          completion: [] as Array<Look | null>,
        },
      ]),
    );
    const ref = accumulators.get(arms[0].name)!;
    for (const day of days) {
      for (const c of byDay.get(day)!) {
        const acc = accumulators.get(c.arm);
        if (!acc) continue;
        acc.acceptance.add(c.unit, c.accepted, c.accepted + c.overridden);
        acc.firing.add(c.unit, c.fired, c.calls);
        acc.completion.add(c.unit, c.completed, c.decided);
      }
      for (const [arm, l] of looks) {
        const a = accumulators.get(arm)!;
        l.acceptance.push(lookAt(ref.acceptance.sums(), a.acceptance.sums()));
        l.firing.push(lookAt(ref.firing.sums(), a.firing.sums()));
        l.completion.push(lookAt(ref.completion.sums(), a.completion.sums()));
      }
    }
    for (const [arm, l] of looks) {
      const a = accumulators.get(arm)!;
      comparisons.push({
        arm,
        reference: arms[0].name,
        acceptance: differenceFigures(ref.acceptance, a.acceptance, l.acceptance),
        firing: differenceFigures(ref.firing, a.firing, l.firing),
        completion: differenceFigures(ref.completion, a.completion, l.completion),
      });
    }
  }

  let sampleRatio: SampleRatioFigures | null = null;
  if (arms.length >= 2 && arms.every((a) => a.weight !== null)) {
    const weights = arms.map((a) => a.weight!);
    const srm = sampleRatioMismatch(
      figures.map((f) => f.units ?? 0),
      weights,
    );
    if (srm) {
      sampleRatio = {
        arms: arms.map((a) => a.name),
        weights,
        expectedShares: srm.expectedShares.map((s) => round(s)),
        chiSquare: round(srm.chiSquare),
        degreesOfFreedom: srm.degreesOfFreedom,
        pValue: roundP(srm.pValue),
        flagged: srm.flagged,
      };
    }
  }
  return { arms: figures, comparisons, sampleRatio };
}

function differenceFigures(
  reference: ClusterAccumulator,
  arm: ClusterAccumulator,
  looks: Array<Look | null>,
): DifferenceFigures {
  const d = differenceOfProportions(reference.sums(), arm.sums());
  const av = alwaysValid(looks);
  const r = (v: number | null) => (v === null ? null : round(v));
  return {
    difference: r(d.estimate),
    low: r(d.low),
    high: r(d.high),
    standardError: r(d.standardError),
    method: d.method,
    alwaysValid: { pValue: roundP(av.pValue), low: r(av.low), high: r(av.high), looks: av.looks },
  };
}
