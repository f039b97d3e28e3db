// "prefetch": "derive" at load: the templates cover the CQL of every version the service may serve, so a
// shadow version that reads a resource type the live one does not finds it in the prefetch.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { knowledgeFrom, repoRoot } from '../support/app.js';

const dir = mkdtempSync(join(tmpdir(), 'cds-derive-versions-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('"prefetch": "derive" with a shadow version', () => {
  it('derives the queries of the live and the shadow version together', async () => {
    for (const part of ['cds-services.json', 'cql', 'rules'])
      cpSync(join(repoRoot, part), join(dir, part), { recursive: true });
    const cql = readFileSync(join(dir, 'cql/ImagingRepeat-1.0.0.cql'), 'utf8')
      .replace("library ImagingRepeat version '1.0.0'", "library ImagingRepeat version '1.1.0'")
      .concat('\ndefine "Shadow Conditions":\n  [Condition]\n');
    writeFileSync(join(dir, 'cql/ImagingRepeat-1.1.0.cql'), cql);
    const rules = JSON.parse(readFileSync(join(dir, 'rules/imaging-repeat/1.0.0.json'), 'utf8'));
    writeFileSync(
      join(dir, 'rules/imaging-repeat/1.1.0.json'),
      JSON.stringify({ ...rules, version: '1.1.0', status: 'draft', cql: { ...rules.cql, version: '1.1.0' } }),
    );
    const catalogue = JSON.parse(readFileSync(join(dir, 'cds-services.json'), 'utf8'));
    const imaging = catalogue.services.find((s: { id: string }) => s.id === 'imaging-repeat');
    imaging.rollout = { shadow: [{ version: '1.1.0' }] };
    writeFileSync(join(dir, 'cds-services.json'), JSON.stringify(catalogue));

    const knowledge = await knowledgeFrom(dir);
    const service = knowledge.services.find((s) => s.definition.id === 'imaging-repeat')!;
    expect(knowledge.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(service.rollout?.shadows.map((r) => r.version)).toEqual(['1.1.0']);
    expect(service.definition.prefetch?.condition).toBe('Condition?patient={{context.patientId}}');
    expect(service.definition.prefetch?.imagingStudy).toMatch(/^ImagingStudy\?patient=\{\{context\.patientId\}\}/);
  }, 120_000);
});
