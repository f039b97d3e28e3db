// The admin surface (knowledge role): reload the knowledge without a restart; explain a served card;
// stop an experiment.
import { Router } from 'express';
import { optionalJsonBody } from './json-body.js';
import { badRequest, invalidField, unknownCard, unknownExperiment } from '../errors.js';
import type { Experiment, KnowledgeHolder, KnowledgeReloader } from '../knowledge/index.js';
import type { UptakeStore } from '../uptake/index.js';
import { methodNotAllowed } from './error-handler.js';
import { pathId } from './path-id.js';

export interface AdminDeps {
  /** The knowledge serving now: which experiments can be stopped. */
  knowledge?: KnowledgeHolder;
  reloader?: KnowledgeReloader;
  uptake?: UptakeStore;
}

/** Longest reason given when stopping an experiment (also in the OpenAPI document). */
export const MAX_STOP_REASON = 500;

export function adminRoutes({ knowledge, reloader, uptake }: AdminDeps): Router {
  const router = Router();
  if (reloader) {
    router.post('/reload', async (_req, res) => {
      const outcome = await reloader.reload('admin');
      // 200 when the new knowledge serves; 422 when it was refused (the previous knowledge still serves).
      res.status(outcome.ok ? 200 : 422).json(outcome);
    });
    router.get('/reload', (_req, res) => {
      res.json(reloader.status());
    });
  }
  if (uptake) {
    // Why a card was served, from what was kept when it was served: the rule's conditions with the
    // values they saw and the define values the rule used, without identifiers.
    router.get('/explain/:card', async (req, res) => {
      const card = pathId(req.params.card, 'the card uuid');
      const found = await uptake.explanation(card);
      if (!found) throw unknownCard(card);
      res.json(found);
    });
    // Stored, so that every instance sharing the database stops serving the experiment's arms
    // (within STOP_REFRESH_MS); the calls after it get the live version, recorded as 'stopped'.
    if (knowledge)
      router.post('/experiments/:id/stop', ...optionalJsonBody(16 * 1024), async (req, res) => {
        const id = String(req.params.id);
        const experiment = experimentById(knowledge, id);
        if (!experiment) throw unknownExperiment(id);
        const body = (req.body ?? {}) as { reason?: unknown };
        if (typeof body !== 'object' || Array.isArray(body))
          throw badRequest('the body must be a JSON object, e.g. {"reason": "..."}, or empty');
        if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > MAX_STOP_REASON)) {
          throw invalidField('reason', `reason: must be a string of at most ${MAX_STOP_REASON} characters`);
        }
        const stop = await uptake.stopExperiment(experiment.id, res.locals.adminKeyId, body.reason);
        res.locals.logger?.info('experiment stopped', {
          experiment: experiment.id,
          by: stop.stoppedBy,
          already: stop.already,
        });
        res.json({
          experiment: experiment.id,
          stoppedAt: stop.stoppedAt,
          stoppedBy: stop.stoppedBy,
          reason: stop.reason,
          alreadyStopped: stop.already,
        });
      });
    if (knowledge) router.all('/experiments/:id/stop', methodNotAllowed(['POST']));
  }
  return router;
}

/** The experiment of this id declared by any service of the knowledge serving now. */
function experimentById(holder: KnowledgeHolder, id: string): Experiment | undefined {
  return holder.current().services.find((s) => s.rollout?.experiment?.id === id)?.rollout?.experiment;
}
