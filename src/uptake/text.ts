/**
 * PostgreSQL text cannot hold NUL (0x00); one such byte from a client would make a whole batch
 * fail on every retry. Every row is written without them (on SQLite too, so both stores agree).
 */
export function withoutNul<T extends object>(row: T): T {
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(row)) {
    if (typeof value === 'string' && value.includes('\u0000')) {
      copy ??= { ...row } as Record<string, unknown>;
      copy[key] = value.split('\u0000').join('');
    }
  }
  return (copy ?? row) as T;
}
