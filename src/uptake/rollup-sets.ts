// Sets and distributions over roll-ups (rollups.ts). A distinct count over a period cannot be added up day by day, so a
// day's roll-up keeps, per group of the day, the set itself: the patients as a list of small integer ids, the
// clinicians as a list of id:cards pairs (uptake_rollup_pseudonym numbers every pseudonym once). The report reads
// a few rows per day and merges the lists here, exactly: distinct patients are the distinct ids of a group's
// lists; burden per clinician-day sums a clinician's cards over the lists of one group and day. Distributions
// (times to feedback and to completion) are kept the same way, as value:count lists, and added up here.
//
// Raw rows (days not rolled up) come as (id, pseudonym) pairs: a pseudonym the roll-ups have not numbered yet is
// given a number of its own here, above any stored id, so that it is counted once with the rest.

/** Numbers pseudonyms that have no stored id, above every id the database can have given. */
class TemporaryIds {
  private readonly ids = new Map<string, number>();
  private next = 2 ** 52;

  of(id: unknown, pseudonym: string): number {
    if (id !== null && id !== undefined) return Number(id);
    let n = this.ids.get(pseudonym);
    if (n === undefined) this.ids.set(pseudonym, (n = this.next++));
    return n;
  }
}

/** Calls `each` with every number of a list of integers separated by commas or colons ("12:3,-5:1"). */
function forEachNumber(text: string, each: (n: number) => void): void {
  let n = 0;
  let digits = 0;
  let sign = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      digits++;
    } else if (c === 45 && digits === 0) sign = -1;
    else {
      if (digits > 0) each(sign * n);
      n = 0;
      digits = 0;
      sign = 1;
    }
  }
  if (digits > 0) each(sign * n);
}

/** Calls `each` with every pair of a list "a:b,a:b,…". */
function forEachPair(text: string, each: (a: number, b: number) => void): void {
  let first: number | undefined;
  forEachNumber(text, (n) => {
    if (first === undefined) first = n;
    else {
      each(first, n);
      first = undefined;
    }
  });
}

/** Ids below this are counted in an array indexed by id; larger ones (temporary) with a set. */
const SMALL = 2 ** 26;

/** Distinct patients per group. */
export class DistinctIds {
  /** Per group, the roll-up rows' lists and the raw rows' ids. */
  private readonly groups = new Map<string, { lists: string[]; ids: number[] }>();
  private readonly temporary = new TemporaryIds();

  private of(group: string): { lists: string[]; ids: number[] } {
    let g = this.groups.get(group);
    if (!g) this.groups.set(group, (g = { lists: [], ids: [] }));
    return g;
  }

  /** A roll-up row's list ("id,id,…"). */
  addList(group: string, ids: string): void {
    this.of(group).lists.push(ids);
  }

  /** A raw row: the pseudonym's stored id, or null when it has none yet. */
  addOne(group: string, id: unknown, pseudonym: string): void {
    this.of(group).ids.push(this.temporary.of(id, pseudonym));
  }

  /** One pass per group, no sort: `seen[id]` holds the last group that counted the id (stored ids are small). */
  counts(): Map<string, number> {
    let seen = new Int32Array(1024);
    const out = new Map<string, number>();
    let g = 0;
    for (const [group, { lists, ids }] of this.groups) {
      g++;
      let count = 0;
      const large = new Set<number>();
      const add = (id: number): void => {
        if (id >= SMALL || id < 0) {
          large.add(id);
          return;
        }
        if (id >= seen.length) {
          const grown = new Int32Array(Math.max(seen.length * 2, id + 1));
          grown.set(seen);
          seen = grown;
        }
        if (seen[id] !== g) {
          seen[id] = g;
          count++;
        }
      };
      for (const list of lists) forEachNumber(list, add);
      for (const id of ids) add(id);
      out.set(group, count + large.size);
    }
    return out;
  }
}

/** Cards per clinician-day per group, as (cards, clinician-days) pairs: the burden distribution. */
export class ClinicianDays {
  /** Per group, per day: cards per clinician id. */
  private readonly days = new Map<string, Map<string, Map<number, number>>>();
  private readonly temporary = new TemporaryIds();

  private day(group: string, day: unknown): Map<number, number> {
    let byDay = this.days.get(group);
    if (!byDay) this.days.set(group, (byDay = new Map()));
    const d = String(day);
    let cards = byDay.get(d);
    if (!cards) byDay.set(d, (cards = new Map()));
    return cards;
  }

  /** A roll-up row's list ("id:cards,id:cards,…") of one day. */
  addList(group: string, day: unknown, counts: string): void {
    const cards = this.day(group, day);
    forEachPair(counts, (id, n) => cards.set(id, (cards.get(id) ?? 0) + n));
  }

  /** A raw row: a clinician's cards of one day (the pseudonym's stored id, or null when it has none yet). */
  addOne(group: string, day: unknown, id: unknown, pseudonym: string, n: number): void {
    const cards = this.day(group, day);
    const key = this.temporary.of(id, pseudonym);
    cards.set(key, (cards.get(key) ?? 0) + n);
  }

  pairs(): Map<string, Array<[number, number]>> {
    const out = new Map<string, Array<[number, number]>>();
    for (const [group, byDay] of this.days) {
      const histogram = new Map<number, number>();
      for (const cards of byDay.values()) for (const c of cards.values()) histogram.set(c, (histogram.get(c) ?? 0) + 1);
      out.set(group, [...histogram]);
    }
    return out;
  }
}

/** A distribution per group: how many of each value (times in ms), as (value, count) pairs. */
export class ValueCounts {
  private readonly counts = new Map<string, Map<number, number>>();

  private of(group: string): Map<number, number> {
    let counts = this.counts.get(group);
    if (!counts) this.counts.set(group, (counts = new Map()));
    return counts;
  }

  /** A roll-up row's list ("value:count,…"). */
  addList(group: string, list: string): void {
    const counts = this.of(group);
    forEachPair(list, (value, n) => counts.set(value, (counts.get(value) ?? 0) + n));
  }

  add(group: string, value: number, n: number): void {
    const counts = this.of(group);
    counts.set(value, (counts.get(value) ?? 0) + n);
  }

  pairs(group: string): Array<[number, number]> {
    return [...(this.counts.get(group) ?? [])];
  }

  groups(): Iterable<string> {
    return this.counts.keys();
  }
}
