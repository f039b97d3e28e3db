// GET /openapi.json describes every endpoint the app answers, with the schemas the server validates
// with; GET /docs is its reference page, served from the package. The contract check that every
// HTTP test's answers pass through (test/support/contract.ts) refuses what the document does not say.
import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import express from 'express';
import type { Express } from 'express';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { contractProblem } from '../support/contract.js';
import { HOOK_REQUEST_SCHEMA, HOOKS } from '../../src/hooks/index.js';
import { FEEDBACK_ITEM_SCHEMA } from '../../src/uptake/index.js';
import { productVersion } from '../../src/paths.js';

let app: Express;
beforeAll(async () => {
  app = testApp({
    knowledge: await knowledgeFrom(testKnowledge('basic')),
    config: { publicBaseUrl: 'https://cds.example.org' },
  });
});

/**
 * Every path and method of the app's own routes and of routers mounted at its root (routers mounted
 * under a prefix, /uptake and /admin, are covered by the contract check on every answer instead).
 */
function routedPaths(app: Express): string[] {
  const out = new Set<string>();
  const walk = (stack: any[], prefix: string): void => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') continue;
          const path = (prefix + layer.route.path).replace(/:(\w+)/g, '{$1}').replace(/(.)\/$/, '$1');
          out.add(`${method.toUpperCase()} ${path}`);
        }
      } else if (layer.handle?.stack && layer.matchers?.[0]?.('/')) {
        walk(layer.handle.stack, prefix);
      }
    }
  };
  walk((app as any).router.stack, '');
  return [...out].sort();
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document of this version, naming the public base URL as the server', async () => {
    const res = await request(app).get('/openapi.json').expect(200);
    expect(res.body).toMatchObject({
      openapi: '3.1.0',
      info: { version: productVersion() },
      servers: [{ url: 'https://cds.example.org' }],
    });
  });

  it('describes every route the app has', async () => {
    const doc = (await request(app).get('/openapi.json').expect(200)).body as { paths: Record<string, object> };
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => m !== 'parameters')
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const routed = routedPaths(app).filter((r) => !r.startsWith('GET /docs/init.js'));
    expect(routed.length).toBeGreaterThan(5);
    expect(routed.filter((r) => !documented.includes(r))).toEqual([]);
  });

  it('carries the request schemas the server validates with, not copies', async () => {
    const doc = (await request(app).get('/openapi.json').expect(200)).body;
    const hookRequest = doc.components.schemas.HookRequest;
    expect(hookRequest.allOf[0].required).toEqual(HOOK_REQUEST_SCHEMA.required);
    expect(hookRequest.allOf[0].properties.hookInstance).toEqual(HOOK_REQUEST_SCHEMA.properties.hookInstance);
    expect(hookRequest.allOf[1].oneOf.map((h: { title: string }) => h.title)).toEqual(Object.keys(HOOKS));
    expect(doc.components.schemas.FeedbackItem.properties).toEqual(FEEDBACK_ITEM_SCHEMA.properties);
  });
});

describe('GET /docs', () => {
  it('serves the reference page and its files from this server, with no external resource', async () => {
    for (const path of ['/docs', '/docs/']) {
      const page = await request(app).get(path).expect(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.text).not.toMatch(/(src|href)="https?:/);
      const assets = [...page.text.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]);
      expect(assets.length).toBeGreaterThanOrEqual(3);
      const base = path.endsWith('/') ? path : `${path}/`;
      for (const asset of assets) {
        const file = asset.replace(/^docs\//, '');
        await request(app).get(`${base}${file}`).expect(200);
      }
    }
    const init = await request(app).get('/docs/init.js').expect(200);
    expect(init.text).toContain('openapi.json');
    // Not the package's demo page, whose initialiser loads a document from the internet.
    await request(app).get('/docs/index.html').expect(404);
    await request(app).get('/docs/swagger-initializer.js').expect(404);
  });
});

describe('the contract check', () => {
  const cards = (body: unknown) => ({
    method: 'POST',
    url: '/cds-services/x',
    status: 200,
    contentType: 'application/json',
    body,
  });

  it('accepts an answer the document describes', () => {
    const card = { uuid: 'u', summary: 's', indicator: 'info', source: { label: 'l' } };
    expect(contractProblem(cards({ cards: [card] }))).toBeUndefined();
  });

  it('refuses a body that does not match, a status not documented, a path not described, a wrong media type', () => {
    expect(contractProblem(cards({ cards: [{ summary: 's' }] }))).toMatch(/does not match the OpenAPI schema/);
    expect(contractProblem({ ...cards({}), status: 418 })).toMatch(/status 418 is not documented/);
    expect(contractProblem({ method: 'GET', url: '/nowhere', status: 200, body: {} })).toMatch(/no such path/);
    expect(contractProblem({ ...cards({ cards: [] }), contentType: 'text/plain' })).toMatch(
      /Content-Type 'text\/plain'/,
    );
    expect(
      contractProblem({
        method: 'GET',
        url: '/nowhere',
        status: 404,
        contentType: 'application/json',
        body: { oops: 1 },
      }),
    ).toMatch(/not an OperationOutcome/);
  });

  it('is applied to every supertest answer of an app that describes itself', async () => {
    const outer = express();
    outer.set('api description', '/openapi.json');
    outer.get('/undocumented', (_req, res) => {
      res.json({ ok: true });
    });
    await expect(request(outer).get('/undocumented').expect(200)).rejects.toThrow(
      /OpenAPI contract: GET \/undocumented → 200: no such path/,
    );
    // A small app built around one middleware does not describe itself and is not checked.
    const bare = express().get('/undocumented', (_req, res) => {
      res.json({ ok: true });
    });
    await request(bare).get('/undocumented').expect(200);
  });
});
