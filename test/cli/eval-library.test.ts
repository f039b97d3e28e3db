// cds eval --library: every define of a library for each of 50 generated patients, in one process, and a
// second run that starts from the compiled-ELM cache without compiling.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';
import { loadFixtureGenerator } from '../../src/cli/fixture-generator.js';
import { createCachingTranslator, type CompileResult, type CqlTranslator } from '../../src/knowledge/index.js';
import { DEFAULT_TRANSLATOR_OPTIONS } from '../../src/knowledge/cql/options.js';
import { repoRoot, testKnowledge } from '../support/app.js';

const AS_OF = '2026-06-01T12:00:00Z';
const PATIENTS = 50;

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cds(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, env });
  return { code, out: out.join(''), err: err.join('') };
}

let patientsDir: string;
let draftsFile: string;
let cacheDir: string;
const egfrOf = new Map<string, number | undefined>();

beforeAll(async () => {
  const generator = await loadFixtureGenerator();
  const root = mkdtempSync(join(tmpdir(), 'cds-eval-library-'));
  patientsDir = join(root, 'patients');
  cacheDir = join(root, 'elm-cache');
  mkdirSync(patientsDir);
  const rng = generator.createRng(1301);
  for (let i = 0; i < PATIENTS; i++) {
    const patientId = `batch-${String(i).padStart(2, '0')}`;
    const egfr = i % 5 === 0 ? undefined : rng.int(12, 95);
    egfrOf.set(patientId, egfr);
    const bundle = generator.generatePatient(
      {
        summary: `batch patient ${i}`,
        seed: 5000 + i,
        age: 40 + (i % 40),
        ...(egfr !== undefined ? { egfr: [{ daysAgo: 10 + i, value: egfr }] } : {}),
        ...(i % 7 === 0 ? { conditions: [{ key: 'ckd4' as const }] } : {}),
      },
      5000 + i,
      { patientId },
    );
    writeFileSync(join(patientsDir, `${patientId}.json`), JSON.stringify(bundle));
  }
  const draft = generator.draftOrder(
    { kind: 'medication', id: 'draft-ibuprofen', medication: 'ibuprofen400' },
    'batch-00',
    'enc',
    'Practitioner/p',
  );
  draftsFile = join(root, 'drafts.json');
  writeFileSync(draftsFile, JSON.stringify([draft]));
});

const args = (...extra: string[]) => [
  'eval',
  '--library',
  'NsaidCkd@1.0.0',
  '--patients',
  patientsDir,
  '--dir',
  repoRoot,
  '--as-of',
  AS_OF,
  '--param',
  `DraftMedications=@${draftsFile}`,
  ...extra,
];

describe('cds eval --library over a batch of patients', () => {
  it('evaluates every define for each of 50 patients, and a second run compiles nothing', async () => {
    const env = { CDS_ELM_CACHE_DIR: cacheDir };
    const first = await cds(args(), env);
    expect(first.err).toMatch(
      /^NsaidCkd 1\.0\.0: [1-9]\d* librar(y|ies) compiled, 0 from the ELM cache; 50 patients\n$/,
    );
    expect(first.code).toBe(0);
    const result = JSON.parse(first.out) as {
      library: string;
      asOf: string;
      patients: Array<{ patient: string; defines: Record<string, unknown> }>;
    };
    expect(result.library).toBe('NsaidCkd');
    expect(result.asOf).toBe('2026-06-01T12:00:00.000Z');
    expect(result.patients).toHaveLength(PATIENTS);
    for (const p of result.patients) {
      const egfr = egfrOf.get(p.patient);
      expect(p.defines['Has NSAID Draft'], p.patient).toBe(true);
      expect((p.defines['Latest eGFR'] as { value?: number } | null)?.value ?? null, p.patient).toBe(egfr ?? null);
      expect(Object.keys(p.defines)).toContain('Has CKD Stage 4 or 5');
    }
    expect(readdirSync(cacheDir).length).toBeGreaterThan(0);

    const second = await cds(args(), env);
    expect(second.err).toMatch(/^NsaidCkd 1\.0\.0: 0 libraries compiled, [1-9]\d* from the ELM cache; 50 patients\n$/);
    expect(second.out).toBe(first.out);
  });

  it('writes CSV: one row a patient, one column a define', async () => {
    const run = await cds(args('--format', 'csv'), { CDS_ELM_CACHE_DIR: cacheDir });
    expect(run.code).toBe(0);
    const lines = run.out.trimEnd().split('\n');
    expect(lines).toHaveLength(PATIENTS + 1);
    const header = lines[0].split(',');
    expect(header.slice(0, 2)).toEqual(['patient', 'source']);
    expect(header).toEqual(expect.arrayContaining(['Patient', 'NSAID Drafts', 'Latest eGFR', 'Has CKD Stage 4 or 5']));
    expect(lines[1].startsWith('batch-00,batch-00.json,')).toBe(true);
  });

  it('refuses a library parameter without a default that --param does not give, naming file and line', async () => {
    const run = await cds(args().slice(0, -2), { CDS_ELM_CACHE_DIR: cacheDir });
    expect(run.code).toBe(2);
    expect(run.err).toContain(
      'cql/NsaidCkd-1.0.0.cql:21: library NsaidCkd 1.0.0 declares parameter "DraftMedications" List<FHIR.MedicationRequest> without a default: give it with --param "DraftMedications=…"',
    );
  });

  it('takes a relative Measurement Period from --param, and reports a failing define with its CQL location', async () => {
    const dir = testKnowledge('measure');
    const bundle = join(mkdtempSync(join(tmpdir(), 'cds-eval-measure-')), 'two-patients.json');
    const patient = (id: string) => ({ resourceType: 'Patient', id });
    const diabetes = (id: string, patientId: string) => ({
      resourceType: 'Condition',
      id,
      subject: { reference: `Patient/${patientId}` },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] },
    });
    writeFileSync(
      bundle,
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          patient('one'),
          diabetes('d1', 'one'),
          patient('two'),
          diabetes('d2', 'two'),
          diabetes('d3', 'two'),
        ].map((resource) => ({ resource })),
      }),
    );
    const run = await cds(
      [
        'eval',
        '--library',
        'GlycemicStatusGap',
        '--patients',
        bundle,
        '--dir',
        dir,
        '--as-of',
        AS_OF,
        '--param',
        'Measurement Period=this calendar year',
      ],
      { CDS_ELM_CACHE_DIR: cacheDir },
    );
    expect(run.code).toBe(1);
    const result = JSON.parse(run.out) as {
      patients: Array<{ patient: string; defines: Record<string, unknown>; errors?: Record<string, string> }>;
    };
    expect(result.patients.map((p) => p.patient)).toEqual(['one', 'two']);
    expect(result.patients[0].defines['Period Start']).toBe('2026-01-01T00:00:00.000+00:00');
    expect(result.patients[0].errors).toBeUndefined();
    expect(result.patients[1].errors?.['The Diabetes Diagnosis']).toMatch(
      /^define "The Diabetes Diagnosis", library GlycemicStatusGap 1\.0\.0, line 51:3-51:42 \(SingletonFrom\): /,
    );
    expect(run.err).toContain('1 patient had defines that failed to evaluate');
  });
});

describe('the compiled-ELM cache', () => {
  const job = {
    name: 'Tiny',
    version: '1.0.0',
    text: "library Tiny version '1.0.0'\ndefine X: 1",
    options: DEFAULT_TRANSLATOR_OPTIONS,
  };
  const counting = () => {
    let calls = 0;
    const translator: CqlTranslator = {
      compileAll: (jobs) => {
        calls++;
        return Promise.resolve(
          jobs.map((): CompileResult => ({ elm: { library: { identifier: { id: 'Tiny' } } }, messages: [] })),
        );
      },
      close: () => Promise.resolve(),
    };
    return { make: () => Promise.resolve(translator), calls: () => calls };
  };

  it('builds no translator when every library is cached, and keys by source and options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cds-elm-cache-'));
    const a = counting();
    await createCachingTranslator(dir, a.make).compileAll([job]);
    expect(a.calls()).toBe(1);
    const b = counting();
    const again = createCachingTranslator(dir, b.make);
    expect(await again.compileAll([job])).toEqual([{ elm: { library: { identifier: { id: 'Tiny' } } }, messages: [] }]);
    expect(b.calls()).toBe(0);
    expect(again.stats()).toEqual({ hits: 1, compiled: 0 });
    await again.compileAll([{ ...job, text: `${job.text}\ndefine Y: 2` }]);
    await again.compileAll([{ ...job, options: { ...job.options, compatibilityLevel: '1.4' } }]);
    expect(b.calls()).toBe(2);
  });
});
