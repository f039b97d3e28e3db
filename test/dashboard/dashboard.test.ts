// The quality dashboard in real headless Chromium, over a seeded ledger whose figures are known
// (seed.ts, experiment-seed.ts, and variation-run.ts with one drift alarm for completion, drift and variation):
// sign-in, each panel's numbers, a filter, a CSV download against the API's answer, withheld cells, keyboard
// use, acknowledging an alarm, the phone layout and the page's CSP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type { Express } from 'express';
import type { Browser, Page } from 'playwright-core';
import { buildDashboard } from '../../scripts/build-dashboard.js';
import { DASHBOARD_CSP } from '../../src/http/dashboard.js';
import { asAdmin, knowledgeFrom, testApp, testKnowledge, TEST_ADMIN_KEY_VALUES } from '../support/app.js';
import { createPseudonymizer } from '../../src/uptake/index.js';
import { seedQualityLedger, withRollout } from '../uptake/quality-ledger.js';
import { TEST_PSEUDONYM_KEY, testUptakeStore, type TestStore } from '../uptake/support.js';
import { seedVariation, VARIATION_SERVICE } from '../uptake/variation-run.js';
import { CHROMIUM, CHROMIUM_SKIP_REASON, launchChromium, listen, TEST_OUTPUT, type RunningServer } from './browser.js';

if (!CHROMIUM) console.warn(`test/dashboard/dashboard.test.ts: browser tests ${CHROMIUM_SKIP_REASON}`);

let t: TestStore;
let v: TestStore;
let browser: Browser;
let apps: { open: Express; withheld: Express; variation: Express; variationWithheld: Express };
let servers: {
  open: RunningServer;
  withheld: RunningServer;
  variation: RunningServer;
  variationWithheld: RunningServer;
};

/** The drift alarm planted beside the variation ledger: errors of its service rose from 0.5 % to 12.5 %. */
const ALARM = {
  id: 'alarm-errors-0001',
  detector: JSON.stringify(['errors', VARIATION_SERVICE, '', '', '(errors)']),
  signal: 'errors',
  service_id: VARIATION_SERVICE,
  rule_set: '',
  rule_set_version: '',
  rule: '(errors)',
  direction: 'up',
  method: 'bernoulli-cusum',
  raised_at: Date.parse('2026-04-06T20:00:00Z'),
  change_at: Date.parse('2026-04-06T19:20:00Z'),
  rate_before: 0.005,
  rate_after: 0.125,
  calls_before: 200,
  calls_after: 40,
  acknowledged_at: null,
  acknowledged_by: null,
  acknowledge_note: null,
};

beforeAll(async () => {
  if (!CHROMIUM) return;
  const dashboardDir = mkdtempSync(join(tmpdir(), 'cds-dashboard-'));
  await buildDashboard(dashboardDir);
  const knowledge = withRollout(await knowledgeFrom(testKnowledge('basic')));
  t = await testUptakeStore('sqlite');
  await seedQualityLedger(t.store);
  const app = (minCell: number) =>
    testApp({
      knowledge,
      now: '2027-02-01T12:00:00Z',
      config: { uptakeMinCell: minCell },
      deps: { uptake: t.store, dashboardDir },
    });
  v = await testUptakeStore('sqlite');
  await seedVariation(v.store);
  await v.store.database.insertInto('uptake_drift_alarm').values(ALARM).execute();
  const variationApp = (minCell: number) =>
    testApp({
      knowledge,
      now: '2027-02-01T12:00:00Z',
      config: { uptakeMinCell: minCell },
      deps: { uptake: v.store, dashboardDir },
    });
  apps = { open: app(1), withheld: app(11), variation: variationApp(11), variationWithheld: variationApp(1000) };
  servers = {
    open: await listen(apps.open),
    withheld: await listen(apps.withheld),
    variation: await listen(apps.variation),
    variationWithheld: await listen(apps.variationWithheld),
  };
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  for (const s of Object.values(servers ?? {})) await s.close();
  await t?.cleanup();
  await v?.cleanup();
});

interface Opened {
  page: Page;
  /** CSP violations and script errors seen while the page was open. */
  problems: string[];
}

async function open(server: RunningServer, viewport = { width: 1280, height: 800 }): Promise<Opened> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${server.url}/dashboard`);
  return { page, problems };
}

async function signIn(page: Page, key: string = TEST_ADMIN_KEY_VALUES.quality): Promise<void> {
  await page.fill('#key', key);
  await page.click('#sign-in-form button[type=submit]');
}

async function openPanel(page: Page, title: string): Promise<void> {
  await page.getByRole('tab', { name: title }).click();
  await page.waitForSelector('#panel:not([aria-busy])');
}

/** The rows of a section's table as the page shows them, keyed by the column labels. */
async function tableRows(page: Page, section: string): Promise<Array<Record<string, string>>> {
  return page.$$eval(`#section-${section} table`, ([table]) => {
    const labels = [...table.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
    return [...table.querySelectorAll('tbody tr')].map((tr) =>
      Object.fromEntries([...tr.querySelectorAll('td')].map((td, i) => [labels[i], td.textContent ?? ''])),
    );
  });
}

/** RFC 4180 lines → cells (quoted cells may hold commas). */
function csvRows(text: string): string[][] {
  return text
    .trimEnd()
    .split('\r\n')
    .map((line) =>
      [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)]
        .slice(0, -1)
        .map((m) => m[1].replace(/^"|"$/g, '').replace(/""/g, '"')),
    );
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(TEST_OUTPUT, `${name}.png`), fullPage: true });

describe.skipIf(!CHROMIUM)('the dashboard in Chromium', () => {
  it('is served with a strict CSP and refuses a wrong key or a key without the quality role', async () => {
    const res = await request(apps.open).get('/dashboard').expect(200);
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(res.text).not.toMatch(/https?:\/\//);
    const { page, problems } = await open(servers.open);
    await signIn(page, 'not-a-key');
    await expect.poll(() => page.textContent('#sign-in-error')).toMatch(/That key was refused \(401\)/);
    expect(await page.isVisible('#board')).toBe(false);
    await signIn(page, TEST_ADMIN_KEY_VALUES.knowledge);
    await expect.poll(() => page.textContent('#sign-in-error')).toMatch(/does not hold the quality role \(403\)/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    // Only the refused requests' own console lines (401, 403): no CSP violation, no script error.
    expect(problems.filter((p) => !/status of 40[13]/.test(p))).toEqual([]);
    await page.context().close();
  });

  it('signs in, keeps the key in the tab only, and shows the Overview with the ledger figures', async () => {
    const { page, problems } = await open(servers.open);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([TEST_ADMIN_KEY_VALUES.quality]);
    expect(await page.context().cookies()).toEqual([]);
    expect(page.url()).not.toContain(TEST_ADMIN_KEY_VALUES.quality);
    const rows = await tableRows(page, 'services');
    // seed.ts: svc-a 60 calls, 30 cards, 11 of 17 accepted; svc-b 39 answered calls and 1 failed, 10 cards.
    expect(rows.find((r) => r.Service === 'svc-a')).toMatchObject({
      Calls: '60',
      Cards: '30',
      'Firing per 100 calls': '50',
      Acceptance: '64.7 %',
      'Failed calls': '0',
    });
    expect(rows.find((r) => r.Service === 'svc-b')).toMatchObject({
      Calls: '39',
      Cards: '10',
      'Firing per 100 calls': '25.64',
      Acceptance: '—',
      'Failed calls': '1',
    });
    // Sorting by a column, from the keyboard.
    await page.focus('#section-services th:nth-child(2) button');
    await page.keyboard.press('Enter');
    expect((await tableRows(page, 'services')).map((r) => r.Calls)).toEqual(
      [...rows.map((r) => r.Calls)].sort((a, b) => Number(a.replace(/,/g, '')) - Number(b.replace(/,/g, ''))),
    );
    await shot(page, 'overview');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('applies a filter and downloads a CSV with the figures of the API for the same filter', async () => {
    const { page } = await open(servers.open);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await page.selectOption('select[name=service]', 'svc-a');
    await page.click('#filters button[type=submit]');
    await expect.poll(async () => (await tableRows(page, 'services')).map((r) => r.Service)).toEqual(['svc-a']);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#section-services button:has-text("Download CSV")'),
    ]);
    expect(download.suggestedFilename()).toMatch(/^overview-services-\d{4}-\d{2}-\d{2}\.csv$/);
    const [header, ...lines] = csvRows(readFileSync(await download.path(), 'utf8'));
    expect(lines).toHaveLength(1);
    expect(header).toHaveLength(11);
    const values = Object.fromEntries(lines[0].map((v, i) => [header[i], v]));
    const api = (
      await request(apps.open).get('/uptake/report?groupBy=service&service=svc-a').set(asAdmin('quality')).expect(200)
    ).body.rows[0];
    expect(values).toMatchObject({
      Service: 'svc-a',
      Calls: String(api.invocations),
      Cards: String(api.cardsServed),
      'Firing per 100 calls': String(api.cardsPer100Invocations),
      'Feedback coverage': String(api.feedbackCoverage),
      Acceptance: String(api.acceptance.rate),
      'Acceptance low 95 %': String(api.acceptance.low),
      'Acceptance high 95 %': String(api.acceptance.high),
      'Failed calls': String(api.failedInvocations),
    });
    await page.context().close();
  });

  it('draws firing and acceptance over time, one line per version, with its data table behind a toggle', async () => {
    const { page, problems } = await open(servers.open);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await openPanel(page, 'Over time');
    await page.waitForSelector('#section-firing .chart svg');
    expect(await page.textContent('#section-firing .chart svg')).toContain('rs-a@1.0.0');
    expect(await page.isVisible('#section-firing table')).toBe(false);
    await page.click('#section-firing button:has-text("Show data table")');
    expect(await page.isVisible('#section-firing table')).toBe(true);
    const firing = await tableRows(page, 'firing');
    // seed.ts: svc-a (rs-a) 30 calls and 15 cards on each of 2026-06-01 and 02; svc-b (rs-b) 39 calls, 10 cards on 01.
    expect(firing).toContainEqual({
      Day: '2026-06-01',
      Version: 'rs-a@1.0.0',
      Calls: '30',
      Cards: '15',
      'Firing per 100 calls': '50',
    });
    expect(firing).toContainEqual({
      Day: '2026-06-02',
      Version: 'rs-a@1.0.0',
      Calls: '30',
      Cards: '15',
      'Firing per 100 calls': '50',
    });
    expect(firing).toContainEqual({
      Day: '2026-06-01',
      Version: 'rs-b@2.0.0',
      Calls: '39',
      Cards: '10',
      'Firing per 100 calls': '25.64',
    });
    expect(await page.textContent('#panel')).toContain('rs-b@2.0.0 first served (2026-06-01)');
    await page.selectOption('select[name=unit]', 'week');
    await page.waitForSelector('#section-firing .chart svg');
    await page.click('#section-firing button:has-text("Show data table")');
    // 2026-06-01 is a Monday: both days fall in its week.
    expect(await tableRows(page, 'firing')).toContainEqual({
      'Week of': '2026-06-01',
      Version: 'rs-a@1.0.0',
      Calls: '60',
      Cards: '30',
      'Firing per 100 calls': '50',
    });
    await shot(page, 'over-time');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows the override reasons of the most overridden rule as a Pareto chart, comments on request', async () => {
    const { page, problems } = await open(servers.open);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await openPanel(page, 'Why overridden');
    await page.waitForSelector('#section-pareto .chart svg');
    // The most overridden rule first: the experiment's (experiment-seed.ts, 16 overrides without a reason).
    expect(await page.textContent('#section-pareto h3')).toBe('Override reasons of svc-x/r1');
    await page.selectOption('select[name=rule]', 'rs-a/r1');
    await page.waitForSelector('#panel:not([aria-busy]) #section-pareto .chart svg');
    const api = (await request(apps.open).get('/uptake/report?groupBy=rule').set(asAdmin('quality')).expect(200)).body;
    const r1 = api.rows.find((r: { group: { rule: string } }) => r.group.rule === 'r1');
    expect(await page.textContent('#section-pareto h3')).toBe('Override reasons of rs-a/r1');
    const rows = await tableRows(page, 'pareto');
    expect(rows.map((r) => [r.Code, r.Overrides])).toEqual(
      r1.overrideReasons.map((o: { code: string; count: number }) => [o.code ?? '—', String(o.count)]),
    );
    // seed.ts: r1 overridden 4 times, twice for or1 (Benefit outweighs risk).
    expect(rows[0]).toMatchObject({
      Reason: 'Benefit outweighs risk',
      Overrides: '2',
      Share: '50.0 %',
      'Cumulative share': '50.0 %',
    });
    expect(rows.at(-1)!['Cumulative share']).toBe('100.0 %');
    expect(await page.textContent('#section-pareto')).not.toContain('Seen by nephrology last week');
    await page.click('#section-pareto button:has-text("Show comments")');
    await expect.poll(() => page.textContent('#section-pareto .comments')).toContain('Seen by nephrology last week');
    await shot(page, 'why-overridden');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows each experiment arm with its interval, the SRM check and status, and shadow agreement', async () => {
    const { page, problems } = await open(servers.open);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await openPanel(page, 'Versions and experiments');
    await page.waitForSelector('#section-experiment-exp-wording .chart svg');
    expect(await page.textContent('#section-experiment-exp-wording h3')).toMatch(
      /^Experiment exp-wording: stopped, stopped 2027-01-06 \(harm at site B\)$/,
    );
    expect(await page.textContent('#section-experiment-exp-wording .note')).toMatch(/Sample ratio as planned: p = /);
    await page.click('#section-experiment-exp-wording button:has-text("Show data table")');
    const arms = await tableRows(page, 'experiment-exp-wording');
    // experiment-seed.ts: 15, 15 and 14 units; the usual arm's 24 cards with feedback, 16 accepted.
    expect(arms.map((a) => [a.Arm, a.Units])).toEqual([
      ['usual', '15'],
      ['new-wording', '15'],
      ['no-card', '14'],
    ]);
    expect(arms[0]).toMatchObject({ 'Cards with feedback': '24', Accepted: '16', Acceptance: '66.7 %' });
    const shadow = await tableRows(page, 'shadow');
    expect(shadow.map((s) => [s.Service, s.Shadow.split('@')[1], s['κ']])).toEqual([
      ['svc-s', '2.1.0', '0.64'],
      ['svc-s', '2.2.0', '1'],
    ]);
    await shot(page, 'versions-and-experiments');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows withheld small cells as withheld, never as zero', async () => {
    const { page } = await open(servers.withheld);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    const rows = await tableRows(page, 'services');
    // k = 11: svc-a's 6 overrides are withheld, and with them its acceptance; svc-b's 10 cards too.
    expect(rows.find((r) => r.Service === 'svc-a')).toMatchObject({ Calls: '60', Cards: '30', Acceptance: 'withheld' });
    expect(rows.find((r) => r.Service === 'svc-b')).toMatchObject({ Calls: '39', Cards: 'withheld' });
    expect(await page.textContent('#panel')).toContain('fewer than 11 cards or calls are withheld');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#section-services button:has-text("Download CSV")'),
    ]);
    expect(readFileSync(await download.path(), 'utf8')).toMatch(/^svc-b,39,withheld,/m);
    await openPanel(page, 'Why overridden');
    await page.selectOption('select[name=rule]', 'rs-a/r1');
    await page.waitForSelector('#panel:not([aria-busy]) #section-pareto');
    expect(await page.textContent('#section-pareto .note')).toMatch(/counts are withheld/);
    expect((await tableRows(page, 'pareto')).every((r) => r.Overrides === 'withheld')).toBe(true);
    await shot(page, 'withheld');
    await page.context().close();
  });

  it('moves between panels with the arrow keys and fits a 390-pixel phone without sideways scrolling', async () => {
    const { page, problems } = await open(servers.open, { width: 390, height: 844 });
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await page.focus('#tab-overview');
    await page.keyboard.press('ArrowRight');
    await page.waitForSelector('#panel:not([aria-busy]) #section-firing');
    expect(await page.getAttribute('#tab-over-time', 'aria-selected')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-over-time');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, 'phone-over-time');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows completion next to acceptance, the drift alarms, and the funnel of clinicians with the outlier marked', async () => {
    const { page, problems } = await open(servers.variation);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await openPanel(page, 'Completion, drift, variation');
    await page.waitForSelector('#section-completion .chart svg');
    await page.click('#section-completion button:has-text("Show data table")');
    // variation-run.ts: 817 cards, 475 accepted of 817 with feedback, 405 of 817 decided cards completed.
    expect((await tableRows(page, 'completion')).find((r) => r.Service === VARIATION_SERVICE)).toMatchObject({
      Cards: '817',
      Acceptance: '58.1 %',
      'Cards measured': '817',
      Decided: '817',
      Completed: '405',
      'Not completed': '412',
      Open: '0',
      Completion: '49.6 %',
    });
    // The planted alarm, open, with its rates before and after.
    expect(await page.textContent('#section-alarms h3')).toMatch(/^Drift alarms: \d+ open$/);
    const alarm = (await tableRows(page, 'alarms')).find((r) => r.Raised === '2026-04-06 20:00');
    expect(alarm).toMatchObject({
      Status: 'open',
      Signal: 'errors',
      Service: VARIATION_SERVICE,
      Rule: '(errors)',
      Direction: 'up',
      Before: '0.5 %',
      'Calls before': '200',
      After: '12.5 %',
      'Calls after': '40',
      'Change started': '2026-04-06 19:20',
      Acknowledged: '—',
    });
    // The funnel: c07 accepts 6 of 40, outside the 99.8 % limits [34.0 %, 82.2 %] around 58.1 %.
    await page.waitForSelector('#section-funnel .chart svg');
    expect(await page.textContent('#section-funnel .chart svg')).toContain('Outlier (outside 99.8 %)');
    const c07 = createPseudonymizer(TEST_PSEUDONYM_KEY)('user', 'Practitioner/c07')!;
    expect(await page.textContent('#section-funnel .note')).toContain(`${c07} (below, 15.0 % of 40)`);
    await page.click('#section-funnel button:has-text("Show data table")');
    const units = await tableRows(page, 'funnel');
    expect(units).toHaveLength(20 + 2);
    expect(units.find((u) => u['Clinician (pseudonym)'] === c07)).toMatchObject({
      Cards: '40',
      Accepted: '6',
      'Cards with feedback': '40',
      Rate: '15.0 %',
      'Limit low 99.8 %': '34.0 %',
      'Limit high 99.8 %': '82.2 %',
      Position: 'outlier, below',
    });
    expect(units.filter((u) => u.Position.startsWith('outlier'))).toHaveLength(1);
    expect(units.find((u) => u['Clinician (pseudonym)'].startsWith('pooled'))).toMatchObject({
      Cards: '17',
      Accepted: '13',
    });
    expect(units.at(-1)).toMatchObject({ 'Clinician (pseudonym)': 'overall', Cards: '817', Rate: '58.1 %' });
    // The CSV holds exactly the rows of the table.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#section-funnel button:has-text("Download CSV")'),
    ]);
    expect(download.suggestedFilename()).toMatch(/^completion-funnel-\d{4}-\d{2}-\d{2}\.csv$/);
    const [header, ...lines] = csvRows(readFileSync(await download.path(), 'utf8'));
    expect(header[0]).toBe('Clinician (pseudonym)');
    expect(lines).toHaveLength(units.length);
    expect(lines.find((l) => l[0] === c07)).toEqual([
      c07,
      '40',
      '6',
      '40',
      '0.15',
      expect.any(String),
      expect.any(String),
      '0.3403',
      '0.8224',
      'outlier, below',
    ]);
    // Sites: no outlier.
    await page.selectOption('select[name=by]', 'site');
    await page.waitForSelector('#panel:not([aria-busy]) #section-funnel .chart svg');
    expect(await page.textContent('#section-funnel .note')).toContain('No outlier outside the 99.8 % limits.');
    await page.selectOption('select[name=by]', 'clinician');
    await page.waitForSelector('#panel:not([aria-busy]) #section-funnel .chart svg');
    await shot(page, 'completion-drift-variation');
    // The client filter narrows completion (ehr-a: 412 cards, 200 completed) and says it does nothing else.
    await page.selectOption('select[name=client]', 'https://ehr-a.example.org');
    await page.click('#filters button[type=submit]');
    await page.waitForSelector('#panel:not([aria-busy]) #section-completion');
    expect(await page.textContent('#panel')).toContain('applies to completion only');
    await page.click('#section-completion button:has-text("Show data table")');
    expect((await tableRows(page, 'completion')).find((r) => r.Service === VARIATION_SERVICE)).toMatchObject({
      Cards: '412',
      Completed: '200',
    });
    expect((await tableRows(page, 'funnel')).at(-1)).toMatchObject({ Cards: '817' });
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('acknowledges a drift alarm from the keyboard, with a note, and then shows it as acknowledged', async () => {
    const { page, problems } = await open(servers.variation);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await openPanel(page, 'Completion, drift, variation');
    const form = `#section-alarms form[data-alarm="${ALARM.id}"]`;
    await page.focus(`${form} input[name=note]`);
    await page.keyboard.type('Known outage of the lab interface');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Acknowledge');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.textContent('#panel')).toContain('Acknowledged: errors of diabetes-hba1c');
    await page.waitForSelector('#panel:not([aria-busy]) #section-alarms table');
    // The acknowledged alarm's form is gone: focus is on the announcement of what was done.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('status');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toMatch(/^Acknowledged: errors of /);
    expect(await page.$(form)).toBeNull();
    const alarm = (await tableRows(page, 'alarms')).find((r) => r.Raised === '2026-04-06 20:00');
    expect(alarm).toMatchObject({ Status: 'acknowledged', Note: 'Known outage of the lab interface' });
    expect(alarm?.Acknowledged).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    const api = (await request(apps.variation).get('/uptake/alerts?status=all').set(asAdmin('quality')).expect(200))
      .body;
    const stored = api.alerts.find((a: { id: string }) => a.id === ALARM.id);
    expect(stored).toMatchObject({
      status: 'acknowledged',
      acknowledged: { note: 'Known outage of the lab interface' },
    });
    // Stored with the id of the admin key that acknowledged it, shown as stored.
    expect(alarm?.['Acknowledged by']).toBe(stored.acknowledged.by);
    await shot(page, 'drift-acknowledged');
    // Open alarms only: the acknowledged one is no longer listed.
    await page.selectOption('select[name=status]', 'open');
    await page.waitForSelector('#panel:not([aria-busy]) #section-alarms');
    expect((await tableRows(page, 'alarms')).map((r) => r.Raised)).not.toContain('2026-04-06 20:00');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('shows the completion and variation figures resting on fewer than k cards as withheld', async () => {
    const { page, problems } = await open(servers.variationWithheld);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await openPanel(page, 'Completion, drift, variation');
    // No chart when every rate is withheld: the table is shown at once.
    await page.waitForSelector('#section-completion table');
    expect(await page.$('#section-completion .chart')).toBeNull();
    // k = 1000: the 817 cards and every figure resting on them are withheld.
    expect((await tableRows(page, 'completion')).find((r) => r.Service === VARIATION_SERVICE)).toMatchObject({
      Cards: 'withheld',
      Completed: 'withheld',
      Completion: 'withheld',
      Acceptance: 'withheld',
    });
    expect(await page.textContent('#section-funnel .note')).toMatch(/^Withheld: these filters hold fewer than 1000/);
    const funnel = await tableRows(page, 'funnel');
    expect(funnel.map((r) => [r['Clinician (pseudonym)'], r.Cards, r.Rate])).toEqual([
      ['pooled (fewer than 1000 cards each)', 'withheld', 'withheld'],
      ['overall', 'withheld', 'withheld'],
    ]);
    expect(await page.$$eval('#section-funnel td.withheld', (tds) => tds.length)).toBeGreaterThan(0);
    await shot(page, 'withheld-completion-drift-variation');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('fits the completion, drift and variation panel on a 390-pixel phone', async () => {
    const { page, problems } = await open(servers.variation, { width: 390, height: 844 });
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await openPanel(page, 'Completion, drift, variation');
    await page.waitForSelector('#section-funnel .chart svg');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(page, 'phone-completion-drift-variation');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('says what to do when there are no data for the filters', async () => {
    const { page } = await open(servers.open);
    await signIn(page);
    await page.waitForSelector('#section-services table');
    await page.fill('input[name=from]', '2030-01-01');
    await page.click('#filters button[type=submit]');
    await expect.poll(() => page.textContent('#panel .empty')).toMatch(/No uptake recorded yet for these filters/);
    await openPanel(page, 'Completion, drift, variation');
    expect(await page.textContent('#panel .empty')).toMatch(/No uptake recorded yet for these filters/);
    await page.context().close();
  });
});
