import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { Knowledge } from '../../src/knowledge/index.js';
import { buildDashboard } from '../../scripts/build-dashboard.js';
import { DASHBOARD_CSP } from '../../src/http/dashboard.js';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';

let knowledge: Knowledge;
let built: string;

beforeAll(async () => {
  knowledge = await knowledgeFrom(testKnowledge('basic'));
  built = mkdtempSync(join(tmpdir(), 'cds-dashboard-'));
  await buildDashboard(built);
});

describe('GET /dashboard', () => {
  it('serves the page and its two assets from this server, each under the strict CSP', async () => {
    const app = testApp({ knowledge, deps: { dashboardDir: built } });
    const page = await request(app).get('/dashboard').expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).not.toMatch(/unsafe|https?:|\*/);
    // Everything the page loads is its own: no other origin, no inline script or style.
    const sources = [...page.text.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(sources.sort()).toEqual(['/dashboard/dashboard.css', '/dashboard/dashboard.js', 'data:,']);
    expect(page.text).not.toMatch(/<script>|style=/);
    const script = await request(app).get('/dashboard/dashboard.js').expect(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.text).toBe(readFileSync(join(built, 'dashboard.js'), 'utf8'));
    expect(script.text).not.toMatch(/https?:\/\/(?!www\.w3\.org)[a-z0-9.-]+\/[^"'\s]*\.(js|css)\b/);
    await request(app).get('/dashboard/dashboard.css').expect(200).expect('content-type', 'text/css; charset=utf-8');
  });

  it('serves nothing else under /dashboard, and only GET', async () => {
    const app = testApp({ knowledge, deps: { dashboardDir: built } });
    await request(app).get('/dashboard/dashboard.js.LEGAL.txt').expect(404);
    await request(app).get('/dashboard/..%2Fpackage.json').expect(404);
    for (const inherited of ['constructor', '__proto__', 'toString'])
      await request(app).get(`/dashboard/${inherited}`).expect(404);
    await request(app).post('/dashboard').expect(405);
  });

  it('says how to build it when the page was not built', async () => {
    const app = testApp({ knowledge, deps: { dashboardDir: mkdtempSync(join(tmpdir(), 'cds-no-dashboard-')) } });
    const res = await request(app).get('/dashboard').expect(503);
    expect(res.body.issue[0].diagnostics).toBe('the dashboard is not built on this server: run npm run build');
  });
});
