import { describe, expect, it } from 'vitest';
import { JSONPath } from 'jsonpath-plus';
import { resolveFactPath } from '../../src/knowledge/fact-path.js';

const facts = {
  'Latest eGFR': { value: 22, unit: 'mL/min' },
  'Has NSAID Draft': true,
  list: [{ code: 'a' }, { code: 'b', nested: [1, 2] }],
  empty: null,
  zero: 0,
  text: 'abc',
  blank: '',
  $x: 'dollar',
  "it's": { ok: 1 },
};

const PATHS = [
  '$',
  "$['Latest eGFR']",
  "$['Latest eGFR'].value",
  "$['Latest eGFR'].missing",
  "$['Has NSAID Draft']",
  '$.list',
  '$.list[1].code',
  '$.list[1].nested[0]',
  '$.list[5].code',
  '$.list.length',
  '$.list.code',
  '$.empty',
  '$.empty.value',
  '$.zero',
  '$.text.length',
  '$.constructor',
  '$.__proto__',
  '$.text[0]',
  '$.blank.length',
  '$.blank[0]',
  "$.list['1'].code",
  "$.text['1']",
  '$x',
  '$foo',
  '$_foo',
  '$.text[0].length',
  '$.text[9]',
  '$.list[0].code.length',
  '$.zero.length',
  '$.absent',
  // Not plain: left to jsonpath-plus.
  '$..code',
  '$.list[*].code',
  '$.list[?(@.code === "b")].code',
];

describe('resolveFactPath', () => {
  it.each(PATHS)('reads %s as jsonpath-plus does', (path) => {
    expect(resolveFactPath(facts, path)).toEqual(JSONPath({ path, json: facts, wrap: false }));
  });

  it('reads define names that jsonpath-plus misreads or throws on', () => {
    const names = ['a]b', 'Ibuprofen, naproxen', 'eGFR; recent', '^caret', '@home', "it's"];
    const cql = Object.fromEntries(names.map((name, i) => [name, i + 1]));
    expect(names.map((name) => resolveFactPath(cql, `$['${name.replace(/'/g, "\\'")}']`))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
