import type { RequestHandler } from 'express';
import type { KnowledgeHolder, ReloadStatus } from '../knowledge/index.js';
import { formatProblem, SERVE_DRAFTS_WARNING } from '../knowledge/index.js';
import type { UptakeStore } from '../uptake/index.js';
import type { ShadowQueue } from '../engine/index.js';

export function healthHandler(): RequestHandler {
  return (_req, res) => {
    res.json({ status: 'ok' });
  };
}

/** Whether CDS Hooks calls are authenticated, as /ready reports it. */
export type AuthStatus = { verification: 'on'; trustedClients: number } | { verification: 'off'; warning: string };

/**
 * Ready when the knowledge loaded. "degraded" (still 200, still serving the others) when some
 * services could not be loaded or any knowledge problem is listed; 503 when the knowledge as a whole
 * could not be loaded.
 */
export function readyHandler(
  holder: KnowledgeHolder,
  auth?: AuthStatus,
  uptake?: UptakeStore,
  reloadStatus?: () => ReloadStatus,
  shadowQueue?: ShadowQueue,
): RequestHandler {
  return async (_req, res) => {
    const knowledge = holder.current();
    // An uptake database that is down leaves hook calls working: "degraded", not 503.
    const uptakeStatus = uptake ? await uptake.status() : undefined;
    const errors = knowledge.problems.filter((p) => p.severity === 'error').map(formatProblem);
    const body = {
      status: knowledge.fatal
        ? 'unavailable'
        : knowledge.unavailable.length > 0 || errors.length > 0 || uptakeStatus?.status === 'unavailable'
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
    };
    res.status(knowledge.fatal ? 503 : 200).json(body);
  };
}
