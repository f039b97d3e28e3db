// cds request: a hook request made from a patient's record file passes `cds eval` and gets the
// cards of the fixture made from the same record by the generator.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { repoRoot } from '../support/app.js';

const work = mkdtempSync(join(tmpdir(), 'cds-request-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function cds(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t) };
  const code = await runCli(args, {
    io,
    env: { CDS_AUTH: 'off', CDS_LOG_LEVEL: 'error', CDS_KNOWLEDGE_DIR: repoRoot },
  });
  return { code, out, err };
}

const fixture = (service: string, name: string) => ({
  request: JSON.parse(readFileSync(join(repoRoot, 'fixtures/requests', service, `${name}.json`), 'utf8')),
  expected: JSON.parse(readFileSync(join(repoRoot, 'fixtures/requests', service, `${name}.expected.json`), 'utf8')),
});

/** The draft orders of a fixture, each written to a file of its own. */
function draftFiles(request: { context: { draftOrders: { entry: Array<{ resource: { id: string } }> } } }): string[] {
  return request.context.draftOrders.entry.map(({ resource }) => {
    const file = join(work, `${resource.id}.json`);
    writeFileSync(file, JSON.stringify(resource));
    return file;
  });
}

describe('cds request', () => {
  const cases = [
    ['nsaid-ckd-order-sign', 'egfr-22-ibuprofen', 'egfr-22'],
    ['nsaid-ckd-order-sign', 'egfr-18-two-nsaids', 'egfr-18'],
    ['opioid-benzo', 'oxycodone-with-active-alprazolam', 'benzo-active'],
    ['nsaid-ckd-order-select', 'egfr-22-naproxen-selected', 'egfr-22'],
  ] as const;
  for (const [service, name, scenario] of cases) {
    it(`makes a ${service} request from the ${scenario} record that cds eval answers as the fixture ${name}`, async () => {
      const { request, expected } = fixture(service, name);
      const out = join(work, `${name}.request.json`);
      const selections = (request.context.selections as string[] | undefined)?.flatMap((s) => ['--select', s]) ?? [];
      const made = await cds([
        'request',
        service,
        '--patient',
        join(repoRoot, 'fixtures/patients', `${scenario}.json`),
        ...draftFiles(request).flatMap((f) => ['--draft', f]),
        ...selections,
        '--user',
        request.context.userId,
        '--out',
        out,
      ]);
      expect(made).toMatchObject({ code: 0, out: '' });
      const written = JSON.parse(readFileSync(out, 'utf8'));
      expect(Object.keys(written.prefetch).sort()).toEqual(Object.keys(request.prefetch).sort());
      expect(written.context.patientId).toBe(request.context.patientId);
      const evaluated = await cds(['eval', '--service', service, '--request', out, '--as-of', expected.asOf, '--json']);
      expect(evaluated.code).toBe(0);
      const cards = (JSON.parse(evaluated.out) as { cards: Array<{ summary: string; indicator: string }> }).cards;
      expect(cards.map((c) => ({ indicator: c.indicator, summary: c.summary }))).toEqual(
        expected.cards.map((c: { indicator: string; summary: string }) => ({
          indicator: c.indicator,
          summary: c.summary,
        })),
      );
    });
  }

  it('fills every prefetch key of the fixture as the generator does', async () => {
    const { request } = fixture('nsaid-ckd-order-sign', 'egfr-29-naproxen');
    const made = await cds([
      'request',
      'nsaid-ckd-order-sign',
      '--patient',
      join(repoRoot, 'fixtures/patients/egfr-29.json'),
      ...draftFiles(request).flatMap((f) => ['--draft', f]),
    ]);
    expect(made.code).toBe(0);
    expect(JSON.parse(made.out).prefetch).toEqual(request.prefetch);
  });

  it('says what is wrong: an unknown service, a record without a Patient, an order hook without drafts', async () => {
    const patient = join(repoRoot, 'fixtures/patients/egfr-22.json');
    expect(await cds(['request', 'no-such-service', '--patient', patient])).toMatchObject({
      code: 2,
      err: expect.stringContaining("no CDS service with id 'no-such-service'"),
    });
    const empty = join(work, 'empty.json');
    writeFileSync(empty, JSON.stringify({ resourceType: 'Bundle', id: 'b', type: 'collection', entry: [] }));
    expect(await cds(['request', 'nsaid-ckd-order-sign', '--patient', empty])).toMatchObject({
      code: 2,
      err: expect.stringContaining('must hold exactly one Patient resource (it holds 0)'),
    });
    expect(await cds(['request', 'nsaid-ckd-order-sign', '--patient', patient])).toMatchObject({
      code: 2,
      err: expect.stringContaining('needs at least one --draft order'),
    });
  });
});
