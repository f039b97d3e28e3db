// One hook call as one typed object, from the first middleware of the service route to the ledger
// row: the knowledge snapshot it runs on (taken once), its logger, and the engine's CallOutcome once
// there is one. When the answer is done (or the caller gave up), onCallFinished hands the call and
// its status to every observer: the access log, the metrics, the uptake recorder.
import type { RequestHandler } from 'express';
import type { VerifiedClient } from '../auth/index.js';
import { errorName, type CallOutcome, type EvaluationOutcome } from '../engine/index.js';
import { servicesById, type Knowledge, type Service } from '../knowledge/index.js';
import type { Logger } from '../logger.js';

/** The whole path as the client sent it (routers strip their mount point from req.path), never the query. */
export const requestPath = (originalUrl: string): string => originalUrl.split('?')[0];

export interface CallContext {
  readonly serviceId: string;
  /** The knowledge this call runs on: a reload while it runs does not change what it is credited to. */
  readonly knowledge: Knowledge;
  readonly startedAt: Date;
  /** performance.now() when the call started. */
  readonly started: number;
  readonly method: string;
  /** The path as the log gives it: `/cds-services/:id` for an id no service of the knowledge has. */
  readonly path: string;
  logger: Logger;
  hookInstance?: string;
  /** The engine's account of the call; absent when it failed before an answer. */
  outcome?: CallOutcome;
  /** The shadow versions' evaluation, to run after the answer (holds the call's data until then). */
  shadows?: () => Promise<EvaluationOutcome[]>;
  /** The ledger id of the call once it was recorded before its answer (see CallObserver.answering). */
  recordedAs?: string;
  /** Runs every observer's `answering` once the outcome is there; the answer is sent after it resolves. */
  readonly beforeAnswer: () => Promise<void>;
}

/** A finished call as observers see it. */
export interface FinishedCall {
  call: CallContext;
  /** The HTTP status answered, or 499 when the caller gave up before the answer. */
  status: number;
  durationMs: number;
  /** The service that answered, or would have answered a failed call (by its hook). */
  service?: Service;
  /** What the request said, read leniently (a failed call's body may be anything). */
  hook?: string;
  /** As the request sent it (the call's own `hookInstance` is set only for values fit for a log line). */
  hookInstance?: string;
  context?: Record<string, unknown>;
  client?: VerifiedClient;
}

export interface CallObserver {
  /** When the call starts, before its body is read. */
  started?(call: CallContext): void;
  /**
   * When the call has its outcome and is about to answer 200: what must be done before the cards leave (the
   * uptake ledger's durable write). Its failure is logged and the answer goes out all the same.
   */
  answering?(answering: FinishedCall): Promise<void>;
  finished(finished: FinishedCall): void;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The request's logger (a child per hook call carrying service id and hookInstance). */
      logger?: Logger;
      /** performance.now() when the request arrived (set by the access log). */
      receivedAt?: number;
      /** The verified EHR (set by client authentication when verification is on). */
      client?: VerifiedClient;
      /** The FHIR servers the verified client may name. */
      allowedFhirServers?: string[];
      /** The admin key that was accepted, by id. */
      adminKeyId?: string;
      /** The bytes of a hook call's UTF-8 body, kept when an evaluation thread is to read it. */
      rawBody?: Buffer;
      /** The hook call (service routes only). */
      call?: CallContext;
      /** The service a feedback call is for. */
      feedbackServiceId?: string;
    }
  }
}

export interface CallContextDeps {
  knowledge: { current(): Knowledge };
  clock: () => Date;
  observers: CallObserver[];
  /** Used when no request logger was set before (always set by the access log in the app). */
  logger: Logger;
}

const UNKNOWN_SERVICE_PATH = '/cds-services/:id';

/** The first middleware of POST /cds-services/{id}: makes the call object and reports its end once. */
export function callContext({ knowledge, clock, observers, logger }: CallContextDeps): RequestHandler {
  return (req, res, next) => {
    const serviceId = String(req.params.id);
    const current = knowledge.current();
    // An id no service has is whatever the caller put in the path: the log names the route, not the value.
    const known = isKnownServiceId(current, serviceId);
    const call: CallContext = {
      serviceId,
      knowledge: current,
      startedAt: clock(),
      started: res.locals.receivedAt ?? performance.now(),
      method: req.method,
      path: known ? requestPath(req.originalUrl) : UNKNOWN_SERVICE_PATH,
      logger: (res.locals.logger ?? logger).child(known ? { serviceId } : {}),
      beforeAnswer: async () => {
        const answering = finishedCall(call, 200, req.body, res.locals.client);
        for (const o of observers) {
          try {
            await o.answering?.(answering);
          } catch (err) {
            call.logger.error('a call observer failed before the answer', { error: errorName(err) });
          }
        }
      },
    };
    res.locals.call = call;
    res.locals.logger = call.logger;
    for (const o of observers) o.started?.(call);
    // 'close' comes for answered calls and for calls the client gave up on (499).
    res.on('close', () => {
      try {
        onCallFinished(
          observers,
          finishedCall(call, res.writableFinished ? res.statusCode : 499, req.body, res.locals.client),
        );
      } catch (err) {
        call.logger.error('recording the end of a call failed', { error: errorName(err) });
      }
    });
    next();
  };
}

/** Hands a finished call to every observer; one observer's failure never keeps the others from it. */
export function onCallFinished(observers: CallObserver[], finished: FinishedCall): void {
  for (const o of observers) {
    try {
      o.finished(finished);
    } catch (err) {
      finished.call.logger.error('a call observer failed', { error: errorName(err) });
    }
  }
}

function finishedCall(
  call: CallContext,
  status: number,
  body: unknown,
  client: VerifiedClient | undefined,
): FinishedCall {
  const request = call.outcome?.request;
  const raw = (body && typeof body === 'object' && !Array.isArray(body) ? body : {}) as {
    hook?: unknown;
    hookInstance?: unknown;
    context?: unknown;
  };
  const hook = request?.hook ?? (typeof raw.hook === 'string' ? raw.hook : undefined);
  const rawContext =
    raw.context && typeof raw.context === 'object' && !Array.isArray(raw.context)
      ? (raw.context as Record<string, unknown>)
      : undefined;
  return {
    call,
    status,
    durationMs: performance.now() - call.started,
    service: call.outcome?.service ?? serviceForHook(call.knowledge, call.serviceId, hook),
    hook,
    hookInstance: typeof raw.hookInstance === 'string' ? raw.hookInstance : undefined,
    context: request?.context ?? rawContext,
    client,
  };
}

/** The service of this id that serves `hook`, or the only one of this id. */
function serviceForHook(knowledge: Knowledge, serviceId: string, hook: string | undefined): Service | undefined {
  const services = servicesById(knowledge, serviceId);
  return services.find((s) => s.definition.hook === hook) ?? (services.length === 1 ? services[0] : undefined);
}

/** Whether a service id is one the knowledge names (served or unavailable): only those are labelled and recorded. */
export function isKnownServiceId(knowledge: Knowledge, serviceId: string): boolean {
  return servicesById(knowledge, serviceId).length > 0 || knowledge.unavailable.some((u) => u.id === serviceId);
}
