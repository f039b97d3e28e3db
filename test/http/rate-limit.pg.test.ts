// Two server instances sharing one PostgreSQL database, as behind a load balancer: a client gets its
// rate limit once, not once per instance. The same store on SQLite counts the same way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import type { Express } from 'express';
import { asAdmin, knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { createLogger } from '../../src/logger.js';
import { createUptakeStore, type UptakeStore } from '../../src/uptake/index.js';
import type { Knowledge } from '../../src/knowledge/index.js';
import { createDatabaseRateLimitStores } from '../../src/http/rate-limit-db.js';
import { announcePgSkip, PG_URL, testUptakeConfig } from '../uptake/support.js';

announcePgSkip('rate-limit.pg.test.ts');

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

async function instances(kind: 'postgres' | 'sqlite', count: number, limits: { cds: number; admin: number }) {
  const shared = await testUptakeConfig(kind);
  const stores: UptakeStore[] = [];
  for (let i = 0; i < count; i++)
    stores.push(await createUptakeStore(shared.config, { logger: createLogger('error', true) }));
  const apps: Express[] = [];
  for (const uptake of stores) {
    apps.push(
      testApp({
        knowledge,
        config: { rateLimitPerMinute: limits.cds, adminRateLimitPerMinute: limits.admin },
        deps: { uptake, rateLimitStore: await createDatabaseRateLimitStores(uptake.database) },
      }),
    );
  }
  return {
    apps,
    close: async () => {
      await Promise.all(stores.map((s) => s.close()));
      await shared.cleanup();
    },
  };
}

describe.skipIf(!PG_URL)('rate limits on two instances sharing PostgreSQL', () => {
  let two: Awaited<ReturnType<typeof instances>>;
  beforeAll(async () => {
    two = await instances('postgres', 2, { cds: 3, admin: 2 });
  }, 60_000);
  afterAll(() => two?.close());

  it('counts a client once across both instances: the fourth call of the minute is 429 wherever it lands', async () => {
    const [a, b] = two.apps;
    await request(a).get('/cds-services').expect(200);
    await request(b).get('/cds-services').expect(200);
    const third = await request(a).get('/cds-services').expect(200);
    expect(third.headers.ratelimit).toMatch(/remaining=0/);
    const fourth = await request(b).get('/cds-services').expect(429);
    expect(fourth.body.issue[0].diagnostics).toMatch(/too many calls from this client: at most 3 a minute/);
    await request(a).get('/cds-services').expect(429);
  });

  it('counts admin requests apart from hook calls, and across both instances too', async () => {
    const [a, b] = two.apps;
    await request(a).get('/uptake/report').set(asAdmin('quality')).expect(200);
    await request(b).get('/uptake/report').set(asAdmin('quality')).expect(200);
    await request(a).get('/uptake/report').set(asAdmin('quality')).expect(429);
  });

  it('lets calls through, uncounted, when the database cannot be reached', async () => {
    const one = await instances('postgres', 1, { cds: 1, admin: 0 });
    await one.close();
    // The pool is closed: every count fails, and a hook call must not.
    await request(one.apps[0]).get('/cds-services').expect(200);
    await request(one.apps[0]).get('/cds-services').expect(200);
  });
});

describe('the database rate-limit store on SQLite', () => {
  it('counts within the window and starts again after it', async () => {
    const one = await instances('sqlite', 1, { cds: 2, admin: 0 });
    try {
      await request(one.apps[0]).get('/cds-services').expect(200);
      await request(one.apps[0]).get('/cds-services').expect(200);
      await request(one.apps[0]).get('/cds-services').expect(429);
    } finally {
      await one.close();
    }
  });

  it('starts a new window once the old one has ended', async () => {
    const shared = await testUptakeConfig('sqlite');
    const uptake = await createUptakeStore(shared.config, { logger: createLogger('error', true) });
    try {
      let now = 1_000_000;
      const store = (await createDatabaseRateLimitStores(uptake.database, () => now))('t:');
      await store.init?.({ windowMs: 60_000 } as never);
      expect(await store.increment('k')).toEqual({ totalHits: 1, resetTime: new Date(1_060_000) });
      expect((await store.increment('k')).totalHits).toBe(2);
      now += 60_000;
      expect(await store.increment('k')).toEqual({ totalHits: 1, resetTime: new Date(1_120_000) });
      await store.decrement('k');
      expect(await store.get?.('k')).toEqual({ totalHits: 0, resetTime: new Date(1_120_000) });
      await store.resetKey('k');
      expect(await store.get?.('k')).toBeUndefined();
    } finally {
      await uptake.close();
      await shared.cleanup();
    }
  });
});
