import { describe, expect, it } from 'vitest';
import { ClinicianDays, DistinctIds, ValueCounts } from '../../src/uptake/rollup-sets.js';

describe('sets and distributions merged from roll-up lists', () => {
  it('counts each id once per group, over lists and raw rows, a pseudonym without an id once too', () => {
    const d = new DistinctIds();
    d.addList('a', '3,1,2');
    d.addList('a', '2,10');
    d.addOne('a', 1, 'p1');
    d.addOne('a', '10', 'p10');
    d.addOne('a', null, 'new');
    d.addOne('a', null, 'new');
    d.addList('b', '7');
    // Ids far apart (the counting array grows), and ids too large for it.
    d.addList('c', '5000000,100000000,2');
    d.addList('c', '100000000,5000000,9007199254740000');
    d.addOne('c', null, 'new');
    expect(d.counts()).toEqual(
      new Map([
        ['a', 5],
        ['b', 1],
        ['c', 5],
      ]),
    );
  });

  it("sums a clinician's cards over the lists of one group and day, and not across days", () => {
    const c = new ClinicianDays();
    c.addList('a', 100, '1:2,2:1');
    c.addList('a', 100, '1:3');
    c.addList('a', 101, '1:1');
    c.addOne('a', 101, null, 'new', 4);
    c.addOne('a', 101, 1, 'p1', 1);
    // Day 100: clinician 1 has 5 cards, clinician 2 one; day 101: clinician 1 has 2, the new one 4.
    expect(new Map(c.pairs().get('a'))).toEqual(
      new Map([
        [5, 1],
        [1, 1],
        [2, 1],
        [4, 1],
      ]),
    );
  });

  it('adds up value:count lists, negative values (a clock ahead of the server) included', () => {
    const v = new ValueCounts();
    v.addList('a', '1000:2,-500:1,0:4');
    v.addList('a', '1000:1');
    v.add('a', -500, 2);
    expect(new Map(v.pairs('a'))).toEqual(
      new Map([
        [1000, 3],
        [-500, 3],
        [0, 4],
      ]),
    );
    expect(v.pairs('none')).toEqual([]);
  });
});
