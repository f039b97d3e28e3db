// One evaluation thread of the pool (evaluation-pool.ts): holds the compiled knowledge of each generation
// it was told to load (from the sources the HTTP thread loaded it from, with the ELM from the disk cache:
// nothing is compiled again), and answers each call with invokeService on the generation the call was taken on.
import { parentPort, workerData } from 'node:worker_threads';
import {
  createCachingTranslator,
  createCqlTranslator,
  knowledgeDigest,
  loadKnowledge,
  sourcesFiles,
  type Experiment,
  type Knowledge,
} from '../knowledge/index.js';
import { createIdleGc } from '../idle-gc.js';
import { malformedJson } from '../errors.js';
import { fhirDataModel } from './cql/patient-data.js';
import { invokeService, type InvokeOptions } from './invoke-service.js';
import type { EvaluationOutcome } from './outcome.js';
import type { RolloutControl } from './rollout.js';
import {
  toWireError,
  toWireEvaluation,
  toWireOutcome,
  type FromThread,
  type RolloutSnapshot,
  type ThreadSetup,
  type ToThread,
  type WireInvokeOptions,
} from './evaluation-wire.js';

const port = parentPort;
if (!port) throw new Error('evaluation-thread.ts runs as a worker thread of the evaluation pool');
const setup = workerData as ThreadSetup;
const translator = createCachingTranslator(setup.elmCacheDir, () => createCqlTranslator());
const generations = new Map<number, Knowledge>();
/** Calls whose shadow versions are still to be evaluated, oldest first (bounded: the pool may drop them). */
const shadowWork = new Map<number, () => Promise<EvaluationOutcome[]>>();
const send = (message: FromThread): void => port.postMessage(message);
const decoder = new TextDecoder();
/** Loads, calls and shadow evaluations are its work; once idle after them it collects its garbage once. */
const idle = createIdleGc(setup.idleGcMs ?? 0);

async function load({ generation, digest, served, sources }: Extract<ToThread, { type: 'load' }>) {
  idle.busy();
  try {
    const knowledge = await loadKnowledge(setup.knowledgeDir, {
      translator,
      served,
      ...(sources ? { files: sourcesFiles(sources) } : {}),
      serveDrafts: setup.serveDrafts,
      prefetchMaxTemplate: setup.prefetchMaxTemplate,
      terminology: setup.terminology,
    });
    if (knowledgeDigest(knowledge) !== digest)
      throw new Error('this thread loaded other knowledge than the HTTP thread did from the same sources');
    fhirDataModel();
    generations.set(generation, knowledge);
    send({ type: 'loaded', generation });
  } catch (err) {
    send({ type: 'loaded', generation, error: err instanceof Error ? err.message : String(err) });
  } finally {
    idle.done();
  }
}

/** The experiment decisions the HTTP thread made for this call, as the engine asks for them. */
function rolloutOf(snapshot: RolloutSnapshot | undefined): RolloutControl | undefined {
  if (!snapshot) return undefined;
  return {
    isStopped: (id) => snapshot[id]?.stopped ?? 'unknown',
    assign: (experiment: Experiment, unitId: string) => {
      const decided = snapshot[experiment.id];
      const arm = decided?.unit === unitId ? experiment.arms.find((a) => a.name === decided.arm) : undefined;
      if (!arm) throw new Error('the call reached the evaluation thread without its experiment arm');
      return arm;
    },
  };
}

function optionsOf(o: WireInvokeOptions): InvokeOptions {
  return {
    clock: () => new Date(o.now),
    prefetch: o.prefetch,
    fhirCheck: o.fhirCheck,
    rollout: rolloutOf(o.rollout),
    client: o.client,
    deadline:
      o.deadlineLeftMs === undefined || o.deadlineMs === undefined
        ? undefined
        : { at: performance.now() + o.deadlineLeftMs, ms: o.deadlineMs },
    maxResources: o.maxResources,
  };
}

async function call(message: Extract<ToThread, { type: 'call' }>): Promise<void> {
  const { id, generation, serviceId, options } = message;
  idle.busy();
  try {
    const knowledge = generations.get(generation);
    if (!knowledge) throw new Error(`knowledge generation ${generation} is not loaded in this evaluation thread`);
    let body: unknown;
    try {
      body = JSON.parse(decoder.decode(new Uint8Array(message.body)));
    } catch {
      // The HTTP thread checked the bytes: only a body it did not check can get here.
      throw malformedJson();
    }
    const { outcome, shadows } = await invokeService(knowledge, serviceId, body, optionsOf(options));
    const keep = !!shadows && options.recording;
    if (keep) {
      shadowWork.set(id, shadows);
      for (const oldest of shadowWork.keys()) {
        if (shadowWork.size <= setup.shadowLimit) break;
        shadowWork.delete(oldest);
      }
    }
    send({ type: 'answer', id, outcome: toWireOutcome(outcome, keep, options.recording) });
  } catch (err) {
    send({ type: 'failed', id, error: toWireError(err) });
  } finally {
    idle.done();
  }
}

async function shadows(id: number, callId: number): Promise<void> {
  const work = shadowWork.get(callId);
  shadowWork.delete(callId);
  idle.busy();
  try {
    if (!work) throw new Error('the data of these shadow evaluations was dropped (too many were waiting)');
    send({ type: 'shadows', id, evaluations: (await work()).map((e) => toWireEvaluation(e, true)) });
  } catch (err) {
    send({ type: 'shadows', id, error: toWireError(err) });
  } finally {
    idle.done();
  }
}

port.on('message', (message: ToThread) => {
  switch (message.type) {
    case 'load':
      void load(message);
      break;
    case 'retire':
      generations.delete(message.generation);
      break;
    case 'call':
      void call(message);
      break;
    case 'shadows':
      void shadows(message.id, message.call);
      break;
  }
});
