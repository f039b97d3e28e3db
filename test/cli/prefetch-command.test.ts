// cds prefetch: the templates derived from each service's CQL, for one service or all, honouring
// CDS_PREFETCH_MAX_TEMPLATE, and a clear error for a service that does not exist.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { repoRoot } from '../support/app.js';

async function cds(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t) };
  const code = await runCli(args, {
    io,
    env: { CDS_AUTH: 'off', CDS_LOG_LEVEL: 'error', CDS_KNOWLEDGE_DIR: repoRoot, ...env },
  });
  return { code, out, err };
}

describe('cds prefetch', () => {
  it('prints the derived templates of every shipped service', async () => {
    const { code, out } = await cds(['prefetch', '--json']);
    expect(code).toBe(0);
    const all = JSON.parse(out) as Record<string, { derived: Record<string, string>; notes: string[] }>;
    expect(Object.keys(all).sort()).toEqual([
      'diabetes-hba1c',
      'imaging-repeat',
      'nsaid-ckd-order-select',
      'nsaid-ckd-order-sign',
      'opioid-benzo',
    ]);
    for (const { derived } of Object.values(all)) expect(derived.patient).toBe('Patient/{{context.patientId}}');
    expect(all['opioid-benzo'].notes.join('\n')).toMatch(/medication\[x\] may be a reference/);
  }, 60_000);

  it('prints one service as key: template lines', async () => {
    const { code, out } = await cds(['prefetch', 'diabetes-hba1c']);
    expect(code).toBe(0);
    expect(out).toMatch(/^diabetes-hba1c\n {2}patient: Patient\/\{\{context\.patientId\}\}\n/);
    expect(out).toContain('  observation: Observation?patient={{context.patientId}}&code=http://loinc.org|4548-4');
  }, 60_000);

  it('falls back to broader queries under a small CDS_PREFETCH_MAX_TEMPLATE', async () => {
    const { out } = await cds(['prefetch', 'diabetes-hba1c'], { CDS_PREFETCH_MAX_TEMPLATE: '200' });
    expect(out).toContain('  condition: Condition?patient={{context.patientId}}\n');
    expect(out).toMatch(/note: Condition: the code filter makes the query longer than 200 characters/);
  }, 60_000);

  it('names a service that does not exist', async () => {
    const { code, err } = await cds(['prefetch', 'no-such-service']);
    expect(code).toBe(2);
    expect(err).toMatch(/no-such-service/);
  }, 60_000);
});
