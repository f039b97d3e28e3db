// One run of the simulated clinic: each planned call sent, each card counted by arm, the clinician's
// decision drawn and sent as feedback, and the summary that sets the truth beside what came back.
import { randomUUID } from 'node:crypto';
import { KNOWLEDGE_EXTENSION } from '../cards/index.js';
import type { FixtureGenerator } from './fixture-generator.js';
import type { SimulateOptions } from './simulate-options.js';
import { hookRequest, type PlannedCall } from './simulate-population.js';

/** The arm of a card from a call in no experiment. */
export const NO_ARM = 'not-in-experiment';

const ERROR_EXAMPLES = 5;

export const CREDENTIALS_HINT =
  'the server wants credentials: simulate against one started with CDS_AUTH=off, ' +
  "or pass --header 'Authorization: Bearer …'";

export interface Tally {
  accepted: number;
  overridden: number;
}

export interface Completion {
  completed: number;
  notCompleted: number;
}

export interface SimulationSummary {
  server: string;
  service: string;
  hook: string;
  seed: number;
  population: { practitioners: number; patients: number; patientsExpectedToFire: number };
  calls: {
    planned: number;
    made: number;
    /** HTTP status of each hook call (`no answer` when the connection failed or timed out). */
    byStatus: Record<string, number>;
    /**
     * Calls whose patient should get the card (one card a call: one NSAID is drafted); null when the
     * service is not served by the nsaid-ckd rule set, the only one whose firing the simulator knows.
     */
    expectedToFire: number | null;
    withCards: number;
    /** Calls whose hook call or feedback ended in an error. */
    failed: number;
  };
  cards: { total: number; byArm: Record<string, number> };
  /** Experiment id → the arms its cards named. */
  experiments: Record<string, string[]>;
  feedback: {
    /** Feedback items sent, by arm and outcome. */
    sent: Record<string, Tally>;
    byStatus: Record<string, number>;
    /** Cards chosen for feedback that cannot carry the outcome drawn (no uuid, or no suggestion to accept). */
    skipped: number;
  };
  /** The probabilities the clinicians follow. */
  truth: { acceptance: Record<string, number>; acceptDefault: number; feedbackShare: number; fireShare: number };
  /** From the feedback the server stored (200): accepted / (accepted + overridden), by arm. */
  observed: { acceptance: Record<string, Tally & { acceptance: number | null }> };
  /** The service's prefetch keys sent filled, and those the generator could not fill. */
  prefetch: { sent: string[]; omitted: string[] };
  latencyMs: { p50: number; p95: number; max: number };
  /**
   * The order-sign calls that followed the cards (with --complete-*): what the clinicians then signed. `drawn`
   * is the truth: cards whose suggestion was carried out or not, by the feedback sent on them, as the report's
   * `completion.byFeedback` counts them. The follow-ups' own cards (a draft signed as it was fires again) get no
   * feedback and are decided by the patient's later calls: they count under `none` in the report only.
   */
  followUps?: {
    service: string;
    sent: number;
    byStatus: Record<string, number>;
    cards: number;
    drawn: { accepted: Completion; overridden: Completion; none: Completion };
  };
  durationMs: number;
  /** The first few errors, each naming the call. */
  errors: string[];
  /** Why the run failed, when more than the allowed share of calls ended in an error. */
  failure?: string;
}

export interface DiscoveredService {
  id: string;
  hook: string;
  prefetch?: Record<string, string>;
  extension?: Record<string, { ruleSet?: string } | undefined>;
}

/** The rule set whose firing the simulated patients are made for. */
export const KNOWN_RULE_SET = 'nsaid-ckd';

export type Http = (path: string, post?: { body: unknown }) => Promise<{ status: number; body: unknown }>;

interface SuggestedAction {
  type?: string;
  resource?: { resourceType?: string; id?: string } & Record<string, unknown>;
  resourceId?: string;
}

interface ServedCard {
  uuid?: string;
  suggestions?: Array<{ uuid?: string; isRecommended?: boolean; actions?: SuggestedAction[] }>;
  overrideReasons?: Array<{ system?: string; code: string; display?: string }>;
  extension?: Record<string, { experiment?: string; arm?: string } | undefined>;
}

export class SimulationRun {
  failedCalls = 0;
  private made = 0;
  private expectedToFire = 0;
  private withCards = 0;
  private readonly omitted = new Set<string>();
  private readonly callStatus: Record<string, number> = {};
  private readonly cardsByArm: Record<string, number> = {};
  private readonly experiments: Record<string, Set<string>> = {};
  private readonly sent: Record<string, Tally> = {};
  private readonly stored: Record<string, Tally> = {};
  private readonly feedbackStatus: Record<string, number> = {};
  private skipped = 0;
  private readonly latencies: number[] = [];
  private readonly errors: string[] = [];
  private followUpsSent = 0;
  private readonly followUpStatus: Record<string, number> = {};
  private followUpCards = 0;
  private readonly drawn = {
    accepted: { completed: 0, notCompleted: 0 },
    overridden: { completed: 0, notCompleted: 0 },
    none: { completed: 0, notCompleted: 0 },
  };

  constructor(
    private readonly options: SimulateOptions,
    private readonly service: DiscoveredService,
    private readonly generator: FixtureGenerator,
    private readonly planned: number,
    /** Where the follow-up order-sign calls go (with options.complete). */
    private readonly followUpService?: DiscoveredService,
  ) {}

  async play(http: Http, call: PlannedCall): Promise<void> {
    const { body, omitted } = hookRequest(this.generator, this.service, call);
    for (const key of omitted) this.omitted.add(key);
    this.made++;
    if (call.patient.fires) this.expectedToFire++;
    const started = performance.now();
    let answer: { status: number; body: unknown };
    try {
      answer = await http(`/cds-services/${encodeURIComponent(this.service.id)}`, { body });
    } catch (err) {
      count(this.callStatus, 'no answer');
      this.failedCalls++;
      this.note(`call ${call.index + 1}: no answer (${failureReason(err)})`);
      return;
    }
    this.latencies.push(performance.now() - started);
    count(this.callStatus, String(answer.status));
    if (answer.status !== 200) {
      this.failedCalls++;
      this.note(`call ${call.index + 1}: ${answer.status} ${diagnostics(answer.body)}`);
      return;
    }
    const cards = ((answer.body as { cards?: ServedCard[] } | undefined)?.cards ?? []).filter(
      (c) => c && typeof c === 'object',
    );
    if (cards.length > 0) this.withCards++;
    // One stream per call: the decisions do not depend on the order in which answers arrive.
    const rng = this.generator.createRng(call.decisionSeed);
    let feedbackFailed = false;
    const decisions = new Map<ServedCard, boolean>();
    for (const card of cards) {
      const provenance = card.extension?.[KNOWLEDGE_EXTENSION];
      const arm = provenance?.arm ?? NO_ARM;
      count(this.cardsByArm, arm);
      if (provenance?.experiment) (this.experiments[provenance.experiment] ??= new Set()).add(arm);
      if (!rng.chance(this.options.feedbackShare)) continue;
      const accepted = rng.chance(this.acceptance(arm));
      const item = feedbackItem(card, accepted, () => rng.next());
      if (!item) {
        this.skipped++;
        continue;
      }
      decisions.set(card, accepted);
      tally(this.sent, arm, accepted);
      if (await this.sendFeedback(http, call, item)) tally(this.stored, arm, accepted);
      else feedbackFailed = true;
    }
    if (feedbackFailed) this.failedCalls++;
    if (this.options.complete && this.followUpService) await this.followUp(http, call, body, cards, decisions);
  }

  /**
   * The order-sign of what the clinician signs after the cards: each card's suggestion (the recommended one, or
   * the first) carried out or not, as drawn; the drafts otherwise as they were. A separate random stream, so the
   * calls and feedback of a seed are the same with or without follow-ups.
   */
  private async followUp(
    http: Http,
    call: PlannedCall,
    first: { context: Record<string, unknown> },
    cards: ServedCard[],
    decisions: Map<ServedCard, boolean>,
  ): Promise<void> {
    const complete = this.options.complete!;
    const target = this.followUpService!;
    const rng = this.generator.createRng((call.decisionSeed ^ 0x2545f491) >>> 0);
    const drafts = ((first.context.draftOrders as { entry?: Array<{ resource?: Resource }> } | undefined)?.entry ?? [])
      .map((e) => e.resource)
      .filter((r): r is Resource => Boolean(r));
    let signed = drafts;
    let suggested = false;
    for (const card of cards) {
      const suggestion = chosenSuggestion(card);
      if (!suggestion?.actions?.length) continue;
      suggested = true;
      // A card without feedback: the clinician still decided, with the arm's acceptance.
      const arm = card.extension?.[KNOWLEDGE_EXTENSION]?.arm ?? NO_ARM;
      const feedback = decisions.get(card);
      const accepted = feedback ?? rng.chance(this.acceptance(arm));
      const done = rng.chance(accepted ? complete.accepted : complete.otherwise);
      const drawn = this.drawn[feedback === undefined ? 'none' : feedback ? 'accepted' : 'overridden'];
      if (done) drawn.completed++;
      else drawn.notCompleted++;
      if (done) signed = carryOut(signed, suggestion.actions);
    }
    if (!suggested) return;
    const { body } = hookRequest(this.generator, target, call);
    body.context = {
      ...body.context,
      draftOrders: { resourceType: 'Bundle', type: 'collection', entry: signed.map((resource) => ({ resource })) },
    };
    this.followUpsSent++;
    try {
      const answer = await http(`/cds-services/${encodeURIComponent(target.id)}`, { body });
      count(this.followUpStatus, String(answer.status));
      const served = (answer.body as { cards?: unknown[] } | undefined)?.cards;
      if (answer.status === 200 && Array.isArray(served)) this.followUpCards += served.length;
      if (answer.status !== 200) {
        this.failedCalls++;
        this.note(`follow-up of call ${call.index + 1}: ${answer.status} ${diagnostics(answer.body)}`);
      }
    } catch (err) {
      count(this.followUpStatus, 'no answer');
      this.failedCalls++;
      this.note(`follow-up of call ${call.index + 1}: no answer (${failureReason(err)})`);
    }
  }

  private acceptance(arm: string): number {
    return this.options.accept[arm] ?? this.options.acceptDefault;
  }

  private async sendFeedback(http: Http, call: PlannedCall, item: Record<string, unknown>): Promise<boolean> {
    try {
      const answer = await http(`/cds-services/${encodeURIComponent(this.service.id)}/feedback`, {
        body: { feedback: [item] },
      });
      count(this.feedbackStatus, String(answer.status));
      if (answer.status === 200) return true;
      this.note(`feedback on call ${call.index + 1}: ${answer.status} ${diagnostics(answer.body)}`);
    } catch (err) {
      count(this.feedbackStatus, 'no answer');
      this.note(`feedback on call ${call.index + 1}: no answer (${failureReason(err)})`);
    }
    return false;
  }

  private note(message: string): void {
    if (this.errors.length < ERROR_EXAMPLES) this.errors.push(message);
  }

  summary(patientsExpectedToFire: number, durationMs: number, errorLimit: number): SimulationSummary {
    const o = this.options;
    const arms = [...new Set([...Object.keys(o.accept), ...Object.keys(this.cardsByArm), NO_ARM])];
    const observed = Object.entries(this.stored).map(([arm, t]) => [
      arm,
      { ...t, acceptance: ratio(t.accepted, t.accepted + t.overridden) },
    ]);
    const latencies = [...this.latencies].sort((a, b) => a - b);
    const knownTruth = this.service.extension?.[KNOWLEDGE_EXTENSION]?.ruleSet === KNOWN_RULE_SET;
    const summary: SimulationSummary = {
      server: o.url,
      service: this.service.id,
      hook: this.service.hook,
      seed: o.seed,
      population: { practitioners: o.practitioners, patients: o.patients, patientsExpectedToFire },
      calls: {
        planned: this.planned,
        made: this.made,
        byStatus: this.callStatus,
        expectedToFire: knownTruth ? this.expectedToFire : null,
        withCards: this.withCards,
        failed: this.failedCalls,
      },
      cards: { total: Object.values(this.cardsByArm).reduce((a, b) => a + b, 0), byArm: this.cardsByArm },
      experiments: Object.fromEntries(Object.entries(this.experiments).map(([id, set]) => [id, [...set].sort()])),
      feedback: { sent: this.sent, byStatus: this.feedbackStatus, skipped: this.skipped },
      truth: {
        acceptance: Object.fromEntries(arms.map((arm) => [arm, this.acceptance(arm)])),
        acceptDefault: o.acceptDefault,
        feedbackShare: o.feedbackShare,
        fireShare: o.fireShare,
      },
      observed: { acceptance: Object.fromEntries(observed) },
      prefetch: {
        sent: Object.keys(this.service.prefetch ?? {}).filter((k) => !this.omitted.has(k)),
        omitted: [...this.omitted],
      },
      latencyMs: {
        p50: tenth(quantile(latencies, 0.5)),
        p95: tenth(quantile(latencies, 0.95)),
        max: tenth(latencies.at(-1) ?? 0),
      },
      durationMs: Math.round(durationMs),
      errors: this.errors,
      ...(o.complete && this.followUpService
        ? {
            followUps: {
              service: this.followUpService.id,
              sent: this.followUpsSent,
              byStatus: this.followUpStatus,
              cards: this.followUpCards,
              drawn: this.drawn,
            },
          }
        : {}),
    };
    if (this.failedCalls > errorLimit) {
      const stopped = this.made < this.planned ? `; stopped after ${this.made} of ${this.planned} calls` : '';
      summary.failure =
        `${this.failedCalls} of ${this.made} calls ended in an error, more than ${o.maxErrorShare * 100} % of ` +
        `${this.planned}${stopped}; the first: ${this.errors[0] ?? 'unknown'}`;
      if (this.callStatus['401'] || this.callStatus['403']) {
        summary.failure += ` (${CREDENTIALS_HINT})`;
      }
    }
    return summary;
  }
}

type Resource = { resourceType?: string; id?: string } & Record<string, unknown>;

/** The suggestion a clinician who accepts a card takes: the recommended one, or the first. */
function chosenSuggestion(card: ServedCard): NonNullable<ServedCard['suggestions']>[number] | undefined {
  const suggestions = (card.suggestions ?? []).filter((s) => s && s.uuid);
  return suggestions.find((s) => s.isRecommended) ?? suggestions[0];
}

/** The drafts after a suggestion's actions: deleted by `Type/id`, created, or updated in place (by type and id). */
export function carryOut(drafts: Resource[], actions: SuggestedAction[]): Resource[] {
  let out = [...drafts];
  const same = (r: Resource, type?: string, id?: string) => r.resourceType === type && r.id === id;
  for (const action of actions) {
    if (action.type === 'delete' && typeof action.resourceId === 'string') {
      const [type, id] = action.resourceId.split('/');
      out = out.filter((r) => !same(r, type, id));
    } else if (action.type === 'create' && action.resource) {
      out.push({ ...action.resource, id: action.resource.id ?? randomUUID() });
    } else if (action.type === 'update' && action.resource) {
      const updated = action.resource;
      out = out.map((r) => (same(r, updated.resourceType, updated.id) ? updated : r));
    }
  }
  return out;
}

/** CDS Hooks 2.0 feedback on one card; undefined when the card cannot carry the outcome drawn. */
function feedbackItem(card: ServedCard, accepted: boolean, random: () => number): Record<string, unknown> | undefined {
  if (!card.uuid) return undefined;
  const outcomeTimestamp = new Date().toISOString();
  if (accepted) {
    const chosen = chosenSuggestion(card);
    if (!chosen) return undefined;
    return { card: card.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: chosen.uuid }], outcomeTimestamp };
  }
  const reasons = card.overrideReasons ?? [];
  const reason = reasons.length > 0 ? reasons[Math.floor(random() * reasons.length)] : undefined;
  return {
    card: card.uuid,
    outcome: 'overridden',
    ...(reason ? { overrideReason: { reason } } : {}),
    outcomeTimestamp,
  };
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function tally(tallies: Record<string, Tally>, arm: string, accepted: boolean): void {
  const t = (tallies[arm] ??= { accepted: 0, overridden: 0 });
  if (accepted) t.accepted++;
  else t.overridden++;
}

function ratio(a: number, b: number): number | null {
  return b === 0 ? null : Math.round((a / b) * 10_000) / 10_000;
}

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

const tenth = (n: number) => Math.round(n * 10) / 10;

/** Why a request got no answer: the connection error's code (ECONNREFUSED, …) or a timeout. */
export function failureReason(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; name?: string; message?: string } | undefined;
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/** The first diagnostics of an OperationOutcome, or the start of whatever else the server said. */
export function diagnostics(body: unknown): string {
  const issue = (body as { issue?: Array<{ diagnostics?: string }> } | undefined)?.issue;
  if (Array.isArray(issue) && issue[0]?.diagnostics) return issue[0].diagnostics;
  return (typeof body === 'string' ? body : (JSON.stringify(body) ?? '')).slice(0, 200);
}
