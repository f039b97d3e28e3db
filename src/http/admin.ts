// The admin surface (knowledge role): reload the knowledge without a restart; explain a served card.
import { Router } from 'express';
import { unknownCard } from '../errors.js';
import type { KnowledgeReloader } from '../knowledge/index.js';
import type { UptakeStore } from '../uptake/index.js';

export interface AdminDeps {
  reloader?: KnowledgeReloader;
  uptake?: UptakeStore;
}

export function adminRoutes({ reloader, uptake }: AdminDeps): Router {
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
      const card = String(req.params.card);
      const found = await uptake.explanation(card);
      if (!found) throw unknownCard(card);
      res.json(found);
    });
  }
  return router;
}
