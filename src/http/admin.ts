// The admin surface (knowledge role): reload the knowledge without a restart.
import { Router } from 'express';
import type { KnowledgeReloader } from '../knowledge/index.js';

export function adminRoutes(reloader: KnowledgeReloader): Router {
  const router = Router();
  router.post('/reload', async (_req, res) => {
    const outcome = await reloader.reload('admin');
    // 200 when the new knowledge serves; 422 when it was refused (the previous knowledge still serves).
    res.status(outcome.ok ? 200 : 422).json(outcome);
  });
  router.get('/reload', (_req, res) => {
    res.json(reloader.status());
  });
  return router;
}
