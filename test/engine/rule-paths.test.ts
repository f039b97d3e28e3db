// Rule conditions name CQL defines by their names, which may hold any character. jsonpath-plus,
// json-rules-engine's own path reader, misreads names holding `,` or `;` (the rule silently did not
// fire) and throws on `@` or `^` (the call failed).
import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invokeService, primaryEvaluation } from '../../src/engine/index.js';
import { knowledgeFrom, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';

async function knowledgeWithDefine(name: string) {
  const dir = mkdtempSync(join(tmpdir(), 'cds-paths-'));
  cpSync(testKnowledge('basic'), dir, { recursive: true });
  const cql = join(dir, 'cql/RenalTest-1.0.0.cql');
  writeFileSync(cql, `${readFileSync(cql, 'utf8')}\ndefine "${name}":\n  "Latest eGFR"\n`);
  const rules = join(dir, 'rules/renal-test/1.0.0.json');
  const doc = JSON.parse(readFileSync(rules, 'utf8'));
  doc.rules[0].conditions.all[1].path = `$['${name}'].value`;
  writeFileSync(rules, JSON.stringify(doc));
  const knowledge = await knowledgeFrom(dir);
  expect(knowledge.problems.filter((p) => p.severity === 'error')).toEqual([]);
  return knowledge;
}

describe('rule condition paths', () => {
  it.each(['eGFR, latest', 'eGFR; latest', 'eGFR @ latest', 'eGFR ^ latest', 'eGFR [latest]'])(
    'read the define named %s',
    async (name) => {
      const knowledge = await knowledgeWithDefine(name);
      const evaluation = primaryEvaluation(
        (
          await invokeService(knowledge, 'renal-test', renalRequest(), {
            clock: () => new Date('2026-06-01T12:00:00Z'),
            prefetch: { timeoutMs: 1000, maxPages: 1 },
          })
        ).outcome,
      );
      expect(evaluation.trace.rules[0]).toMatchObject({ rule: 'low-egfr', fired: true });
      expect(evaluation.cards).toHaveLength(1);
    },
  );
});
