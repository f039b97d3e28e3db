// Evaluation on every core (CDS_WORKERS >= 2): a pool of worker threads, each holding the compiled
// knowledge, answers the calls the HTTP thread hands over as the bytes of their bodies.
//
// Knowledge comes in generations. The HTTP thread loads a set, then prepare() has every thread load it from
// the same sources (the texts the HTTP thread read, compiled ELM from the disk cache) and check that they hash
// alike; only then is the set swapped in. A thread started later (in place of one that stopped) loads the
// generations it needs from their sources too: what is served, whatever the files on disk have become.
// A call carries the generation of the snapshot it was taken on and is answered from it; a thread keeps
// an old generation until no call holds it. A thread that stops (crash, out of memory) fails only the
// calls it had (500) and is replaced.
import type { Worker } from 'node:worker_threads';
import { callDeadlineExceeded, evaluationThreadStopped, evaluationUnavailable } from '../errors.js';
import {
  knowledgeDigest,
  servicesById,
  type Knowledge,
  type KnowledgeSources,
  type LoadedWith,
  type ServedFingerprints,
  type Service,
} from '../knowledge/index.js';
import type { HookRequest } from '../hooks/index.js';
import { startThread } from '../thread.js';
import type { Evaluator, PoolHealth } from './evaluator.js';
import type { InvokeOptions, InvokeResult } from './invoke-service.js';
import type { EvaluationOutcome } from './outcome.js';
import { unitIdOf, type CallingClient, type RolloutControl } from './rollout.js';
import {
  fromWireError,
  fromWireEvaluations,
  fromWireOutcome,
  type FromThread,
  type RolloutSnapshot,
  type ThreadSetup,
  type ToThread,
  type WireInvokeOptions,
} from './evaluation-wire.js';

export interface PoolLogger {
  error(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
}

export interface EvaluationPoolOptions {
  /** Threads (CDS_WORKERS). */
  size: number;
  setup: ThreadSetup;
  logger: PoolLogger;
  /**
   * Whether an uptake ledger records the calls: shadow versions will be asked for after the answer, and the threads
   * send back what the ledger reads (the evidence of the call's data, the defines that explain the cards served).
   */
  recording: boolean;
  /** Wait before trying again to start a thread whose knowledge did not load (default 5 s). */
  retryMs?: number;
}

export interface ThreadStatus {
  threadId: number;
  /** Knowledge generations it holds. */
  generations: number[];
  /** Calls and shadow evaluations it is answering. */
  inFlight: number;
}

export interface EvaluationPool extends Evaluator {
  /**
   * Has every thread load `knowledge` (just loaded in this thread with `served`, from `sources`: without them the
   * threads read the files, which may have changed since); resolves once all of them hold it, after which calls on
   * it are answered. Rejects (and nothing changes) otherwise.
   */
  prepare(knowledge: Knowledge, loadedWith?: LoadedWith): Promise<void>;
  status(): ThreadStatus[];
  health(): PoolHealth;
  /** The threads themselves (their threadId, to watch or stop one). */
  workers(): Worker[];
  close(): Promise<void>;
}

interface Pending {
  resolve: (message: FromThread) => void;
  reject: (err: Error) => void;
}

/** How long past a call's deadline a thread may take to answer before it is taken to be stuck and stopped. */
const DEADLINE_GRACE_MS = 2000;

interface Slot {
  worker: Worker;
  loaded: Set<number>;
  loading: Map<number, Promise<void>>;
  loadWaiters: Map<number, Pending>;
  pending: Map<number, Pending>;
  stopped: boolean;
  /** Why the pool stopped it, when it did. */
  stopping?: 'stuck' | 'load failed' | 'unreadable answer';
}

interface Generation {
  digest: string;
  served?: ServedFingerprints;
  /** What it was loaded from, kept while it may be loaded again (by a thread started in place of another). */
  sources?: KnowledgeSources;
  /** Calls that hold the snapshot (from their start to their end) and requests on it in a thread. */
  holds: number;
}

export function createEvaluationPool(options: EvaluationPoolOptions): EvaluationPool {
  const { size, setup, logger, recording } = options;
  const retryMs = options.retryMs ?? 5_000;
  const slots: Slot[] = [];
  const generationOf = new WeakMap<Knowledge, number>();
  const generations = new Map<number, Generation>();
  let current: number | undefined;
  let lastGeneration = 0;
  let nextId = 0;
  let closing = false;
  const counts = { crashes: 0, stuck: 0, restarts: 0, failedRestarts: 0 };

  const post = (slot: Slot, message: ToThread, transfer: ArrayBuffer[] = []): void =>
    slot.worker.postMessage(message, transfer);

  /**
   * Sends a message and waits for its answer. With `deadline` (a call's), a thread that has not answered by
   * then and a grace period (stuck inside one CQL define, where its own deadline check cannot run, or an answer
   * lost) answers the call 503 call-deadline and is stopped: its other calls fail and another thread starts.
   */
  const request = (
    slot: Slot,
    id: number,
    message: ToThread,
    transfer?: ArrayBuffer[],
    deadline?: { leftMs: number; ms: number },
  ): Promise<FromThread> =>
    new Promise<FromThread>((resolve, reject) => {
      if (slot.stopped) return reject(evaluationThreadStopped());
      let timer: NodeJS.Timeout | undefined;
      const settle = () => timer && clearTimeout(timer);
      slot.pending.set(id, {
        resolve: (m) => (settle(), resolve(m)),
        reject: (e) => (settle(), reject(e)),
      });
      if (deadline) {
        timer = setTimeout(
          () => {
            if (!slot.pending.delete(id)) return;
            reject(callDeadlineExceeded(deadline.ms));
            logger.error('an evaluation thread did not answer a call by its deadline; stopping it', {
              threadId: slot.worker.threadId,
            });
            slot.stopping ??= 'stuck';
            void slot.worker.terminate();
          },
          Math.max(0, deadline.leftMs) + DEADLINE_GRACE_MS,
        );
        timer.unref();
      }
      post(slot, message, transfer);
    });

  const load = (slot: Slot, generation: number): Promise<void> => {
    const known = slot.loading.get(generation);
    if (known) return known;
    const g = generations.get(generation);
    if (!g) return Promise.reject(new Error(`knowledge generation ${generation} is gone`));
    const loading = new Promise<void>((resolve, reject) => {
      slot.loadWaiters.set(generation, { resolve: () => resolve(), reject });
      post(slot, { type: 'load', generation, digest: g.digest, served: g.served, sources: g.sources });
    }).finally(() => slot.loading.delete(generation));
    slot.loading.set(generation, loading);
    return loading;
  };

  const retireIfDone = (generation: number): void => {
    const g = generations.get(generation);
    if (!g || generation === current || g.holds > 0 || preparing.has(generation)) return;
    generations.delete(generation);
    for (const slot of slots) {
      slot.loaded.delete(generation);
      if (!slot.stopped) post(slot, { type: 'retire', generation });
    }
  };
  const preparing = new Set<number>();

  const spawn = (): Slot => {
    const worker = startThread('./evaluation-thread', import.meta.url, { workerData: setup, stdout: true });
    // A library's console output is not the server's log: discarded, not buffered without end.
    worker.stdout.resume();
    worker.unref();
    const slot: Slot = {
      worker,
      loaded: new Set(),
      loading: new Map(),
      loadWaiters: new Map(),
      pending: new Map(),
      stopped: false,
    };
    worker.on('message', (message: FromThread) => {
      if (message.type === 'loaded') {
        const waiter = slot.loadWaiters.get(message.generation);
        slot.loadWaiters.delete(message.generation);
        // A generation retired while this thread was still loading it: the thread kept it; it must not.
        if (message.error === undefined && !generations.has(message.generation))
          post(slot, { type: 'retire', generation: message.generation });
        else if (message.error === undefined) slot.loaded.add(message.generation);
        if (message.error === undefined) waiter?.resolve(message);
        else waiter?.reject(new Error(message.error));
        return;
      }
      const waiting = slot.pending.get(message.id);
      slot.pending.delete(message.id);
      waiting?.resolve(message);
    });
    // An answer that cannot be read (it failed to deserialize) belongs to a call this side cannot name: rather
    // than let that call wait for its deadline, the thread is stopped, which fails its calls 500 and replaces it.
    worker.on('messageerror', (err) => {
      // Already being stopped (stuck, or its knowledge did not load and it waits out the pause before its successor).
      if (slot.stopping) return;
      logger.error('an answer of an evaluation thread could not be read; stopping the thread', { error: err.name });
      slot.stopping = 'unreadable answer';
      void worker.terminate();
    });
    worker.on('error', (err) => {
      // The thread's own message may quote data: its type and code only.
      const code = (err as { code?: unknown }).code;
      logger.error('an evaluation thread failed', {
        error: err.name,
        ...(typeof code === 'string' ? { errorCode: code } : {}),
      });
    });
    worker.on('exit', (exitCode) => {
      slot.stopped = true;
      slots.splice(slots.indexOf(slot), 1);
      for (const p of slot.pending.values()) p.reject(evaluationThreadStopped());
      slot.pending.clear();
      for (const p of slot.loadWaiters.values()) p.reject(new Error('the evaluation thread stopped'));
      slot.loadWaiters.clear();
      if (closing) return;
      if (slot.stopping === 'stuck') counts.stuck++;
      else if (slot.stopping === undefined || slot.stopping === 'unreadable answer') counts.crashes++;
      logger.error('an evaluation thread stopped; starting another', { threadId: worker.threadId, exitCode });
      replace();
    });
    slots.push(slot);
    return slot;
  };

  /** A thread in place of one that stopped, with the knowledge being served and any being prepared. */
  const replace = (): void => {
    counts.restarts++;
    const slot = spawn();
    const wanted = [...(current === undefined ? [] : [current]), ...preparing];
    void Promise.all(wanted.map((g) => load(slot, g))).catch((err: unknown) => {
      if (slot.stopped || closing) return;
      counts.failedRestarts++;
      slot.stopping = 'load failed';
      logger.error('an evaluation thread could not load the knowledge served; trying again', {
        reason: err instanceof Error ? err.message : String(err),
        retryMs,
      });
      // Stopping it starts another (on 'exit'), after a pause.
      setTimeout(() => void slot.worker.terminate(), retryMs).unref();
    });
  };

  for (let i = 0; i < size; i++) spawn();

  /** The thread with the fewest requests among those that hold `generation`, waiting for one being loaded. */
  const threadFor = async (generation: number): Promise<Slot> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      let best: Slot | undefined;
      for (const slot of slots) {
        // One being stopped gets no new call: it would fail without being evaluated.
        if (slot.stopped || slot.stopping || !slot.loaded.has(generation)) continue;
        if (!best || slot.pending.size < best.pending.size) best = slot;
      }
      if (best) return best;
      const loading = slots.flatMap((s) => (s.loading.has(generation) ? [s.loading.get(generation)!] : []));
      if (loading.length === 0) break;
      await Promise.any(loading).catch(() => undefined);
    }
    throw evaluationUnavailable();
  };

  const hold = (generation: number): (() => void) => {
    const g = generations.get(generation);
    if (!g) return () => undefined;
    g.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      g.holds--;
      retireIfDone(generation);
    };
  };

  const runShadows = async (slot: Slot, callId: number, generation: number, service: Service) => {
    const release = hold(generation);
    try {
      const id = ++nextId;
      const answer = await request(slot, id, { type: 'shadows', id, call: callId });
      if (answer.type !== 'shadows') throw new Error('an evaluation thread answered out of turn');
      if (answer.error) throw fromWireError(answer.error);
      return fromWireEvaluations(service, answer.evaluations ?? []);
    } finally {
      release();
    }
  };

  return {
    wantsRaw: true,
    async prepare(knowledge, loadedWith = {}) {
      const generation = ++lastGeneration;
      generations.set(generation, {
        digest: knowledgeDigest(knowledge),
        served: loadedWith.served,
        sources: loadedWith.sources,
        holds: 0,
      });
      preparing.add(generation);
      try {
        // A thread that stops meanwhile is replaced by one that loads this generation too.
        for (let round = 0; ; round++) {
          const missing = slots.filter((s) => !s.stopped && !s.loaded.has(generation));
          if (missing.length === 0 && slots.length >= size) break;
          const results = await Promise.allSettled(missing.map((s) => load(s, generation)));
          const failed = results.flatMap((r, i) => (r.status === 'rejected' && !missing[i].stopped ? [r.reason] : []));
          if (failed.length > 0) throw failed[0] instanceof Error ? failed[0] : new Error(String(failed[0]));
          if (round >= 5) throw new Error('the evaluation threads kept stopping while the knowledge was loaded');
          if (missing.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } catch (err) {
        preparing.delete(generation);
        retireIfDone(generation);
        throw new Error(
          `the evaluation threads could not load it: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      preparing.delete(generation);
      generationOf.set(knowledge, generation);
      const previous = current;
      current = generation;
      // Not before the caller has swapped the new set in (it does so when this resolves): a call that takes the
      // previous snapshot meanwhile holds it first.
      if (previous !== undefined) setImmediate(() => retireIfDone(previous));
    },
    hold(knowledge) {
      const generation = generationOf.get(knowledge);
      return generation === undefined ? () => undefined : hold(generation);
    },
    async invoke(knowledge, serviceId, body, invokeOptions, raw): Promise<InvokeResult> {
      const generation = generationOf.get(knowledge);
      if (generation === undefined) throw new Error('this knowledge was not prepared in the evaluation threads');
      if (invokeOptions.prefetch.fetchImpl)
        throw new Error('a fetch function cannot be handed to an evaluation thread');
      const release = hold(generation);
      try {
        const slot = await threadFor(generation);
        const id = ++nextId;
        // Transferred when the bytes are the whole of their memory (a large body read from the socket); otherwise a
        // copy of its own: a Buffer's memory may be shared with others (Node's pool) and cannot be transferred.
        const source = raw ?? new TextEncoder().encode(JSON.stringify(body));
        const own = source.byteOffset === 0 && source.byteLength === source.buffer.byteLength;
        const bytes = own && source.buffer instanceof ArrayBuffer ? source : new Uint8Array(source);
        const buffer = bytes.buffer as ArrayBuffer;
        const options = wireOptions(knowledge, serviceId, body, invokeOptions, recording);
        const message: ToThread = { type: 'call', id, generation, serviceId, body: buffer, options };
        const deadline = invokeOptions.deadline
          ? { leftMs: invokeOptions.deadline.at - performance.now(), ms: invokeOptions.deadline.ms }
          : undefined;
        const answer = await request(slot, id, message, [buffer], deadline);
        if (answer.type === 'failed') throw fromWireError(answer.error);
        if (answer.type !== 'answer') throw new Error('an evaluation thread answered out of turn');
        const outcome = fromWireOutcome(answer.outcome, knowledge, serviceId, body as HookRequest);
        if (!answer.outcome.shadows) return { outcome };
        return {
          outcome,
          shadows: (): Promise<EvaluationOutcome[]> => runShadows(slot, id, generation, outcome.service),
        };
      } finally {
        release();
      }
    },
    status: () =>
      slots.map((s) => ({ threadId: s.worker.threadId, generations: [...s.loaded], inFlight: s.pending.size })),
    health() {
      const live = slots.filter((s) => !s.stopped);
      const ready = live.filter((s) => current !== undefined && s.loaded.has(current)).length;
      return { wanted: size, ready, starting: live.length - ready, ...counts };
    },
    workers: () => slots.map((s) => s.worker),
    async close() {
      closing = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

/** The call's options as data: its "now", its deadline as time left, the experiment decisions made here. */
function wireOptions(
  knowledge: Knowledge,
  serviceId: string,
  body: unknown,
  o: InvokeOptions,
  recording: boolean,
): WireInvokeOptions {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { fetchImpl, ...prefetch } = o.prefetch;
  return {
    now: o.clock().getTime(),
    ...(o.deadline ? { deadlineLeftMs: o.deadline.at - performance.now(), deadlineMs: o.deadline.ms } : {}),
    prefetch,
    ...(o.fhirCheck ? { fhirCheck: o.fhirCheck } : {}),
    ...(o.client ? { client: { iss: o.client.iss, tenant: o.client.tenant } } : {}),
    ...(o.maxResources !== undefined ? { maxResources: o.maxResources } : {}),
    ...(o.rollout ? { rollout: rolloutSnapshot(knowledge, serviceId, body, o.client, o.rollout) } : {}),
    recording,
  };
}

/**
 * The stops and the arm assignment of each experiment the call may be in, decided here (the ledger's stops,
 * the assignment's key). The unit is read leniently: the thread validates the request, and uses these only
 * for the unit it finds there.
 */
function rolloutSnapshot(
  knowledge: Knowledge,
  serviceId: string,
  body: unknown,
  client: CallingClient | undefined,
  control: RolloutControl,
): RolloutSnapshot {
  const raw = body && typeof body === 'object' ? (body as { context?: unknown }).context : undefined;
  const context = raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {};
  const request = { context } as HookRequest;
  const snapshot: RolloutSnapshot = {};
  for (const service of servicesById(knowledge, serviceId)) {
    const experiment = service.rollout?.experiment;
    if (!experiment) continue;
    const unit = unitIdOf(experiment.unit, request, client);
    snapshot[experiment.id] = {
      stopped: control.isStopped(experiment.id),
      ...(unit === undefined ? {} : { unit, arm: control.assign(experiment, unit).name }),
    };
  }
  return snapshot;
}
