// Prometheus metrics (GET /metrics, admin key with the `operations` role): hook calls and their
// latency per service and status, cards served per rule set, version, rule and indicator, calls
// with malformed FHIR data, feedback calls, knowledge reloads and what serves now, and the uptake
// recorder's queue. Labels hold only names from the knowledge and status codes: never request data,
// and never a service id a caller made up (those count as "(unknown)").
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Knowledge, KnowledgeHolder, ReloadStatus } from '../knowledge/index.js';
import { isKnownServiceId, type CallObserver } from './call.js';
import type { PoolHealth, ShadowQueue } from '../engine/index.js';
import type { UptakeStore } from '../uptake/index.js';

export interface MetricsDeps {
  knowledge: KnowledgeHolder;
  reloadStatus?: () => ReloadStatus;
  uptake?: UptakeStore;
  /** The Node.js process's own metrics (memory, event loop lag, GC): on in the server, off in tests. */
  processMetrics?: boolean;
  shadowQueue?: ShadowQueue;
  /** The evaluation threads (CDS_WORKERS >= 2). */
  workers?: () => PoolHealth;
}

export interface Metrics {
  /** Counts each feedback call when its answer is done; mount before the routes. */
  observe: RequestHandler;
  /** Counts each hook call, its latency and the cards it served, from the call object. */
  callObserver: CallObserver;
  /** GET /metrics in the Prometheus text format. */
  handler: RequestHandler;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics({
  knowledge,
  reloadStatus,
  uptake,
  processMetrics = false,
  shadowQueue,
  workers,
}: MetricsDeps): Metrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });

  const calls = new Counter({
    name: 'cds_hook_calls_total',
    help: 'CDS Hooks service calls answered, by service and HTTP status',
    labelNames: ['service', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'cds_hook_call_duration_seconds',
    help: 'Time from request to answer of CDS Hooks service calls, prefetch included',
    labelNames: ['service'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const cards = new Counter({
    name: 'cds_cards_served_total',
    help: 'Cards served, by service, rule set, version, rule and indicator',
    labelNames: ['service', 'rule_set', 'version', 'rule', 'indicator'],
    registers: [registry],
  });
  const malformed = new Counter({
    name: 'cds_malformed_fhir_calls_total',
    help: 'Calls whose FHIR data was malformed but evaluated anyway (CDS_FHIR_CHECK=warn)',
    labelNames: ['service'],
    registers: [registry],
  });
  const feedback = new Counter({
    name: 'cds_feedback_calls_total',
    help: 'Feedback calls answered, by service and HTTP status',
    labelNames: ['service', 'status'],
    registers: [registry],
  });

  new Counter({
    name: 'cds_knowledge_reloads_total',
    help: 'Knowledge reloads since start, by outcome (ok: the new set serves; refused: the last good set kept serving)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const status = reloadStatus?.();
      this.reset();
      this.inc({ outcome: 'ok' }, status ? status.reloads - status.failures : 0);
      this.inc({ outcome: 'refused' }, status?.failures ?? 0);
    },
  });
  new Gauge({
    name: 'cds_knowledge_loaded_timestamp_seconds',
    help: 'When the knowledge serving now was loaded',
    registers: [registry],
    collect() {
      this.set(knowledge.current().loadedAt.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'cds_knowledge_service_info',
    help: 'The services served now and the rule set version behind each (value 1); unavailable ones have version ""',
    labelNames: ['service', 'hook', 'rule_set', 'version', 'available'],
    registers: [registry],
    collect() {
      this.reset();
      const current = knowledge.current();
      for (const s of current.services)
        this.set(
          {
            service: s.definition.id,
            hook: s.definition.hook,
            rule_set: s.ruleSet.id,
            version: s.ruleSet.version,
            available: 'true',
          },
          1,
        );
      for (const u of current.unavailable)
        this.set({ service: u.id, hook: u.hook, rule_set: '', version: '', available: 'false' }, 1);
    },
  });
  if (shadowQueue) {
    new Gauge({
      name: 'cds_shadow_queued',
      help: 'Calls whose shadow versions wait to be evaluated after their answer',
      registers: [registry],
      collect() {
        this.set(shadowQueue.status().queued);
      },
    });
    new Counter({
      name: 'cds_shadow_dropped_total',
      help: 'Calls whose shadow versions were not evaluated because the shadow queue was full (CDS_SHADOW_QUEUE_LIMIT)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(shadowQueue.status().dropped);
      },
    });
    new Counter({
      name: 'cds_shadow_evaluated_total',
      help: 'Calls whose shadow versions were evaluated after their answer',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(shadowQueue.status().evaluated);
      },
    });
  }
  if (workers) {
    new Gauge({
      name: 'cds_evaluation_threads',
      help: 'Evaluation threads by state: wanted (CDS_WORKERS), ready (holding the knowledge served), starting',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const h = workers();
        this.set({ state: 'wanted' }, h.wanted);
        this.set({ state: 'ready' }, h.ready);
        this.set({ state: 'starting' }, h.starting);
      },
    });
    new Counter({
      name: 'cds_evaluation_thread_stops_total',
      help:
        'Evaluation threads that stopped while serving, by reason: crashed (on their own: an error, out of memory), ' +
        'stuck (stopped for not answering a call by its deadline); each is replaced',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        const h = workers();
        this.reset();
        this.inc({ reason: 'crashed' }, h.crashes);
        this.inc({ reason: 'stuck' }, h.stuck);
      },
    });
    new Counter({
      name: 'cds_evaluation_thread_restarts_total',
      help: 'Evaluation threads started in place of one that stopped',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(workers().restarts);
      },
    });
    new Counter({
      name: 'cds_evaluation_thread_restart_failures_total',
      help: 'Evaluation threads started in place of another that could not load the knowledge served (another is tried)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(workers().failedRestarts);
      },
    });
  }
  if (uptake) {
    // One database check per scrape, shared by the gauges below (collected together).
    let pending: { at: number; status: ReturnType<UptakeStore['status']> } | undefined;
    const status = (): ReturnType<UptakeStore['status']> => {
      if (!pending || Date.now() - pending.at > 1000) pending = { at: Date.now(), status: uptake.status() };
      return pending.status;
    };
    const gauge = (
      name: string,
      help: string,
      read: (s: Awaited<ReturnType<UptakeStore['status']>>) => number,
    ): void => {
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          this.set(read(await status()));
        },
      });
    };
    new Gauge({
      name: 'cds_rule_drift_alarm',
      help:
        'Drift alarms not acknowledged (value 1): a change in the firing rate of a rule (rule "(any card)": of any card ' +
        'of the version), or in a service\'s errors, 412s or latency (rule "(errors)", "(412)", "(latency)")',
      labelNames: ['service', 'rule_set', 'version', 'rule', 'direction'],
      registers: [registry],
      async collect() {
        // The detectors read what was written since their last look; a failing database keeps the last known alarms.
        await Promise.race([uptake.scanDrift(), new Promise((r) => setTimeout(r, 2000).unref())]).catch(
          () => undefined,
        );
        this.reset();
        for (const a of uptake.openAlarms()) {
          this.set(
            {
              service: a.service_id,
              rule_set: a.rule_set,
              version: a.rule_set_version,
              rule: a.rule,
              direction: a.direction,
            },
            1,
          );
        }
      },
    });
    gauge('cds_uptake_up', 'Whether the uptake database answers (1) or not (0)', (s) => (s.status === 'ok' ? 1 : 0));
    gauge('cds_uptake_recorder_failing', 'Whether the uptake recorder is failing to write (1) or not (0)', (s) =>
      s.recorder.state === 'failing' ? 1 : 0,
    );
    gauge('cds_uptake_queued', 'Ledger entries waiting to be written', (s) => s.recorder.queued);
    gauge(
      'cds_uptake_dropped',
      'Ledger entries lost since start: queue full during an outage, or a refused entry that could not be set aside',
      (s) => s.recorder.dropped,
    );
    gauge(
      'cds_uptake_set_aside',
      'Ledger entries the database refused as values since start, kept in uptake_set_aside (cds uptake set-aside)',
      (s) => s.recorder.setAside,
    );
  }

  /** The service label: an id from the knowledge, or "(unknown)" for ids no service has. */
  const serviceLabel = (id: string | undefined, known: Knowledge): string =>
    id !== undefined && isKnownServiceId(known, id) ? id : '(unknown)';

  // Feedback calls, and hook calls refused before they became a call (401, 429): the call observer
  // below counts every hook call that did.
  const observe: RequestHandler = (req, res, next) => {
    if (req.method !== 'POST' || !req.path.startsWith('/cds-services/')) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    res.on('close', () => {
      const status = String(res.writableFinished ? res.statusCode : 499);
      if (req.path.endsWith('/feedback')) {
        const id = res.locals.feedbackServiceId ?? decodeSegment(req.path.split('/')[2]);
        feedback.inc({ service: serviceLabel(id, knowledge.current()), status });
        return;
      }
      if (res.locals.call) return;
      const service = serviceLabel(decodeSegment(req.path.split('/')[2]), knowledge.current());
      calls.inc({ service, status });
      duration.observe({ service }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };

  const callObserver: CallObserver = {
    finished({ call, status, durationMs }) {
      const outcome = call.outcome;
      const service = outcome ? outcome.service.definition.id : serviceLabel(call.serviceId, call.knowledge);
      calls.inc({ service, status: String(status) });
      duration.observe({ service }, durationMs / 1000);
      if (!outcome || status !== 200) return;
      if (outcome.dataProblems) malformed.inc({ service });
      // The version that answered and the rule behind each card, as the evaluation recorded them.
      const shown = outcome.evaluations[0];
      if (shown?.disposition !== 'shown' || !shown.evaluation) return;
      const { id: ruleSet, version } = shown.ruleSet;
      for (const card of shown.evaluation.cards) {
        const rule = shown.evaluation.origins.get(card.uuid ?? '')?.rule ?? '';
        cards.inc({ service, rule_set: ruleSet, version, rule, indicator: card.indicator });
      }
    },
  };

  const handler: RequestHandler = async (_req, res) => {
    const text = await registry.metrics();
    res.setHeader('Content-Type', registry.contentType);
    res.send(text);
  };

  return { observe, callObserver, handler };
}

function decodeSegment(segment: string | undefined): string | undefined {
  if (segment === undefined) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
