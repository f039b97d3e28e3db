import { beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import type { Knowledge } from '../../src/knowledge/index.js';
import { productVersion } from '../../src/paths.js';

let knowledge: Knowledge;
beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
});

describe('GET /', () => {
  it('answers JSON with the version and links to discovery, /ready, the OpenAPI document, the docs and the dashboard', async () => {
    const res = await request(testApp({ knowledge })).get('/').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.version).toBe(productVersion());
    const hrefs = Object.values(res.body.links as Record<string, { href: string }>).map((l) => l.href);
    expect(hrefs).toEqual(expect.arrayContaining(['/cds-services', '/ready', '/openapi.json', '/docs', '/dashboard']));
  });

  it('answers a small HTML page to a browser, linking relative to where the server is mounted', async () => {
    const res = await request(testApp({ knowledge }))
      .get('/')
      .set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8')
      .expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('<a href="./cds-services">');
    expect(res.text).toContain('<a href="./ready">');
  });

  it('links to endpoints that exist', async () => {
    const app = testApp({ knowledge });
    const res = await request(app).get('/').expect(200);
    for (const name of ['discovery', 'health', 'ready', 'openapi', 'docs']) {
      const href = (res.body.links as Record<string, { href: string }>)[name].href;
      expect({ href, status: (await request(app).get(href)).status }).toEqual({ href, status: 200 });
    }
  });

  it('answers 405 to other methods', async () => {
    await request(testApp({ knowledge })).post('/').send({}).expect(405);
  });
});
