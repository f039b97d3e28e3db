// Where a hook call is evaluated: in the calling thread (invokeService itself), or on a pool of
// evaluation threads (evaluation-pool.ts). The HTTP handler asks an Evaluator and gets the same
// InvokeResult either way.
import type { Knowledge } from '../knowledge/index.js';
import { invokeService, type InvokeOptions, type InvokeResult } from './invoke-service.js';

/** A pool of evaluation threads as /ready and /metrics report it. */
export interface PoolHealth {
  /** Threads asked for (CDS_WORKERS). */
  wanted: number;
  /** Threads holding the knowledge served: they answer calls. */
  ready: number;
  /** Threads started that do not hold it yet. */
  starting: number;
  /** Since start: threads that stopped on their own (a crash, out of memory). */
  crashes: number;
  /** Since start: threads stopped because they had not answered a call by its deadline (stuck in one define). */
  stuck: number;
  /** Since start: threads started in place of one that stopped. */
  restarts: number;
  /** Since start: threads started in place of another that could not load the knowledge served (tried again). */
  failedRestarts: number;
}

export interface Evaluator {
  /**
   * invokeService on `knowledge` (the call's snapshot). `raw` is the body as it was received (UTF-8 JSON),
   * when there is one: a pool hands those bytes over instead of the parsed body.
   */
  invoke(
    knowledge: Knowledge,
    serviceId: string,
    body: unknown,
    options: InvokeOptions,
    raw?: Uint8Array,
  ): Promise<InvokeResult>;
  /** Whether invoke uses `raw` (the HTTP side keeps the body's bytes only then). */
  readonly wantsRaw: boolean;
  /**
   * Keeps a knowledge snapshot available for evaluation while a call holds it (from its start to its end);
   * returns the release.
   */
  hold?(knowledge: Knowledge): () => void;
  /** The threads evaluating (a pool's), as /ready and /metrics report them. */
  health?(): PoolHealth;
}

/** Evaluates in the calling thread: invokeService, nothing else. */
export const inThreadEvaluator: Evaluator = {
  invoke: (knowledge, serviceId, body, options) => invokeService(knowledge, serviceId, body, options),
  wantsRaw: false,
};
