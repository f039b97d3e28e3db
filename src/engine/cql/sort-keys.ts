// A query's `sort by` in cql-execution is an asynchronous merge sort whose every comparison evaluates the sort
// expression on both elements anew (a child context and an evaluation each) and compares with `<`, which for
// a DateTime prints both as text. Sorting 755 observations by time made some 7,000 comparisons: 14,000
// evaluations and 14,000 texts. Here each element's sort value, and what `<` compares it as, are computed
// once, when a comparison first needs them; the merge sort is cql-execution's own (the same comparisons of
// the same pairs in the same order, an element that is undefined dropped where it drops it), over indexes
// instead of shifted and sliced arrays. Its comparison is not a consistent order (two equal DateTimes compare
// as "after" both ways), so the order of comparisons is kept, not only the values.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface Context {
  childContext(values?: unknown): Context;
}

interface SortItem {
  exec: (this: SortItem, ctx: Context, a: unknown, b: unknown) => Promise<number>;
  expression?: { execute(ctx: Context): Promise<unknown> };
  low_order: number;
  high_order: number;
}

interface QueryModule {
  SortClause: {
    prototype: {
      sort: (this: { by?: SortItem[] | null }, ctx: Context, values: unknown[]) => Promise<unknown[]>;
      __sortKeys?: boolean;
      /** cql-execution's own, for a comparison with stock behaviour (test/engine/patient-data.test.ts). */
      __stockSort?: (this: { by?: SortItem[] | null }, ctx: Context, values: unknown[]) => Promise<unknown[]>;
    };
  };
  ByExpression: { prototype: SortItem };
}

/** A value of a sort expression and, once needed, its primitive as `<` takes it. */
interface Keyed {
  value: unknown;
  primitive?: unknown;
  primitiveDone?: boolean;
}

export function installSortKeys(): void {
  const query = require('cql-execution/lib/elm/query') as QueryModule;
  const clause = query.SortClause.prototype;
  if (clause.__sortKeys) return;
  const stockExec = query.ByExpression.prototype.exec;
  Object.defineProperty(clause, '__sortKeys', { value: true });
  Object.defineProperty(clause, '__stockSort', { value: clause.sort });
  clause.sort = async function sort(this: { by?: SortItem[] | null }, ctx: Context, values: unknown[]) {
    const by = this.by;
    if (!by) return values;
    if (values.length <= 1) return values;
    const keyed = by.map((item) =>
      item.exec === stockExec && item.expression ? new Array<Keyed | undefined>(values.length) : undefined,
    );

    /** The order of two elements when every value it needs is known, else NaN (then ask `compare`). */
    const known = (i: number, j: number): number => {
      for (let k = 0; k < by.length; k++) {
        const keys = keyed[k];
        const a = keys?.[i];
        const b = keys?.[j];
        if (!a || !b) return Number.NaN;
        const order = compareKeyed(a, b, by[k]);
        if (order !== 0) return order;
      }
      return 0;
    };

    /** The order of two elements, computing the values it needs (in the order ByExpression.exec does). */
    const compare = async (i: number, j: number): Promise<number> => {
      let order = 0;
      for (let k = 0; k < by.length; k++) {
        const item = by[k];
        const keys = keyed[k];
        if (!keys) order = await item.exec(ctx, values[i], values[j]);
        else {
          // As ByExpression.exec: the first element's value, then the second's.
          keys[i] ??= { value: await item.expression!.execute(ctx.childContext(values[i])) };
          keys[j] ??= { value: await item.expression!.execute(ctx.childContext(values[j])) };
          order = compareKeyed(keys[i], keys[j], item);
        }
        if (order !== 0) break;
      }
      return order;
    };

    const sortRange = async (indexes: number[]): Promise<number[]> => {
      if (indexes.length <= 1) return indexes;
      const mid = Math.floor(indexes.length / 2);
      const left = await sortRange(indexes.slice(0, mid));
      const right = await sortRange(indexes.slice(mid));
      const sorted: number[] = [];
      let l = 0;
      let r = 0;
      while (l < left.length && r < right.length) {
        let order = known(left[l], right[r]);
        if (Number.isNaN(order)) order = await compare(left[l], right[r]);
        const take = order <= 0 ? left[l++] : right[r++];
        if (values[take] !== undefined) sorted.push(take);
      }
      while (l < left.length) sorted.push(left[l++]);
      while (r < right.length) sorted.push(right[r++]);
      return sorted;
    };

    const order = await sortRange(values.map((_, i) => i));
    return order.map((i) => values[i]);
  };
}

/** ByExpression.exec's comparison of two values. */
function compareKeyed(a: Keyed, b: Keyed, item: SortItem): number {
  const x = a.value as { isQuantity?: boolean; before?: (o: unknown) => boolean } | null | undefined;
  const y = b.value as typeof x;
  if (x === y || (x == null && y == null)) return 0;
  if (x == null || y == null) return x == null ? item.low_order : item.high_order;
  if (x.isQuantity && y.isQuantity) return x.before!(y) ? item.low_order : item.high_order;
  return (primitiveOf(a) as number) < (primitiveOf(b) as number) ? item.low_order : item.high_order;
}

/** What `<` compares a value as (ToPrimitive with the hint number), computed once. */
function primitiveOf(keyed: Keyed): unknown {
  if (!keyed.primitiveDone) {
    keyed.primitive = toPrimitive(keyed.value);
    keyed.primitiveDone = true;
  }
  return keyed.primitive;
}

function isPrimitive(value: unknown): boolean {
  return value === null || (typeof value !== 'object' && typeof value !== 'function');
}

function toPrimitive(value: unknown): unknown {
  if (isPrimitive(value)) return value;
  const object = value as Record<string | symbol, unknown>;
  const exotic = object[Symbol.toPrimitive];
  if (exotic != null) {
    const result = (exotic as (hint: string) => unknown).call(object, 'number');
    if (isPrimitive(result)) return result;
    throw new TypeError('Cannot convert object to primitive value');
  }
  for (const name of ['valueOf', 'toString']) {
    const method = object[name];
    if (typeof method === 'function') {
      const result = (method as () => unknown).call(object);
      if (isPrimitive(result)) return result;
    }
  }
  throw new TypeError('Cannot convert object to primitive value');
}
