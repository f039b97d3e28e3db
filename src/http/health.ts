import type { RequestHandler } from 'express';
import type { KnowledgeHolder, ReloadStatus } from '../knowledge/index.js';
import { formatProblem, SERVE_DRAFTS_WARNING } from '../knowledge/index.js';
import type { UptakeStore } from '../uptake/index.js';
import type { PoolHealth, ShadowQueue } from '../engine/index.js';

export function healthHandler(): RequestHandler {
  return (_req, res) => {
    res.json({ status: 'ok' });
  };
}

/** Whether CDS Hooks calls are authenticated, as /ready reports it. */
export type AuthStatus = { verification: 'on'; trustedClients: number } | { verification: 'off'; warning: string };

/**
 * Ready when the knowledge loaded. "degraded" (still 200, still serving the others) when some
 * services could not be loaded, any knowledge problem is listed, or fewer evaluation threads hold the
 * knowledge than were asked for; 503 when the knowledge as a whole could not be loaded, or no evaluation
 * thread holds it (every call would be answered 503).
 */
export function readyHandler(
  holder: KnowledgeHolder,
  auth?: AuthStatus,
  uptake?: UptakeStore,
  reloadStatus?: () => ReloadStatus,
  shadowQueue?: ShadowQueue,
  workers?: () => PoolHealth,
): RequestHandler {
  return async (_req, res) => {
    const knowledge = holder.current();
    // An uptake database that is down leaves hook calls working: "degraded", not 503.
    const uptakeStatus = uptake ? await uptake.status() : undefined;
    const errors = knowledge.problems.filter((p) => p.severity === 'error').map(formatProblem);
    const threads = workers?.();
    const unavailable = !!knowledge.fatal || threads?.ready === 0;
    const body = {
      status: unavailable
        ? 'unavailable'
        : knowledge.unavailable.length > 0 ||
            errors.length > 0 ||
            uptakeStatus?.status === 'unavailable' ||
            (threads && threads.ready < threads.wanted)
          ? 'degraded'
          : 'ready',
      knowledge: {
        loadedAt: knowledge.loadedAt.toISOString(),
        services: knowledge.services.map((s) => ({
          id: s.definition.id,
          hook: s.definition.hook,
          ruleSet: s.ruleSet.id,
          version: s.ruleSet.version,
          ...(s.rollout?.shadows.length ? { shadow: s.rollout.shadows.map((r) => r.version) } : {}),
          ...(s.rollout?.experiment ? { experiment: s.rollout.experiment.id } : {}),
          status: s.ruleSet.status,
        })),
        // Whether services whose live version is a draft are served (CDS_SERVE_DRAFTS).
        drafts: knowledge.serveDrafts ? { served: true, warning: SERVE_DRAFTS_WARNING } : { served: false },
        unavailable: knowledge.unavailable,
        ...(knowledge.fatal ? { error: knowledge.fatal } : {}),
        problems: errors,
        ...(reloadStatus ? { reload: reloadStatus() } : {}),
      },
      ...(auth ? { auth } : {}),
      ...(uptakeStatus ? { uptake: uptakeStatus } : {}),
      ...(shadowQueue ? { shadow: shadowQueue.status() } : {}),
      ...(threads ? { workers: threads } : {}),
    };
    res.status(unavailable ? 503 : 200).json(body);
  };
}
