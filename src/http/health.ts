import type { RequestHandler } from 'express';
import type { KnowledgeHolder } from '../knowledge/index.js';
import { formatProblem } from '../knowledge/index.js';

export function healthHandler(): RequestHandler {
  return (_req, res) => {
    res.json({ status: 'ok' });
  };
}

/**
 * Ready when the knowledge loaded. "degraded" (still 200, still serving the others) when some
 * services could not be loaded; 503 when the knowledge as a whole could not be loaded.
 */
export function readyHandler(holder: KnowledgeHolder): RequestHandler {
  return (_req, res) => {
    const knowledge = holder.current();
    const errors = knowledge.problems.filter((p) => p.severity === 'error').map(formatProblem);
    const body = {
      status: knowledge.fatal ? 'unavailable' : knowledge.unavailable.length > 0 ? 'degraded' : 'ready',
      knowledge: {
        loadedAt: knowledge.loadedAt.toISOString(),
        services: knowledge.services.map((s) => ({ id: s.definition.id, hook: s.definition.hook, ruleSet: s.ruleSet.id, version: s.ruleSet.version })),
        unavailable: knowledge.unavailable,
        ...(knowledge.fatal ? { error: knowledge.fatal } : {}),
        problems: errors,
      },
    };
    res.status(knowledge.fatal ? 503 : 200).json(body);
  };
}
