// Two server instances sharing one PostgreSQL ledger (and the pseudonym key), as behind a load
// balancer: a unit gets the same arm from both, and a stop made on one is honoured by the other.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { createLogger } from '../../src/logger.js';
import { createUptakeStore, type UptakeStore } from '../../src/uptake/index.js';
import { KNOWLEDGE_EXTENSION, type Card } from '../../src/cards/index.js';
import { announcePgSkip, PG_URL, testUptakeConfig } from '../uptake/support.js';

announcePgSkip('rollout.pg.test.ts');
const NOW = '2026-06-01T12:00:00Z';

const armOf = (cards: Card[]): string =>
  cards.length === 0 ? 'no-card' : ((cards[0].extension?.[KNOWLEDGE_EXTENSION] as { arm?: string }).arm ?? 'none');

describe.skipIf(!PG_URL)('rollout on two instances sharing PostgreSQL', () => {
  let stores: UptakeStore[] = [];
  let apps: Express[] = [];
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const knowledge = await knowledgeFrom(testKnowledge('rollout'));
    const shared = await testUptakeConfig('postgres');
    cleanup = shared.cleanup;
    stores = await Promise.all(
      [0, 1].map(() => createUptakeStore(shared.config, { logger: createLogger('error', true) })),
    );
    apps = stores.map((uptake) => testApp({ knowledge, now: NOW, deps: { uptake } }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await cleanup?.();
  });

  const call = async (app: Express, user: string): Promise<string> => {
    const res = await request(app)
      .post('/cds-services/greeter-trial')
      .send({ hook: 'patient-view', hookInstance: randomUUID(), context: { userId: user, patientId: 'patient-1' } })
      .expect(200);
    return armOf(res.body.cards as Card[]);
  };

  it('gives each unit the same arm on both instances', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const user = `Practitioner/pg-${i}`;
      const [a, b] = [await call(apps[0], user), await call(apps[1], user)];
      expect(b).toBe(a);
      seen.add(a);
    }
    expect(seen).toEqual(new Set(['usual', 'welcome', 'no-card']));
  });

  it('honours on the second instance a stop made on the first', async () => {
    await request(apps[0]).post('/admin/experiments/greeting-2026/stop').set(asAdmin('knowledge')).send({}).expect(200);
    expect(await call(apps[0], 'Practitioner/after-stop')).toBe('none');
    // The other instance re-reads the stored stops every STOP_REFRESH_MS (2 s).
    const deadline = Date.now() + 10_000;
    let arm = await call(apps[1], 'Practitioner/after-stop');
    while (arm !== 'none' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      arm = await call(apps[1], 'Practitioner/after-stop');
    }
    expect(arm).toBe('none');
  });
});
