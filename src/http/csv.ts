import type { Response } from 'express';

/**
 * Sends a CSV export as a download whose file name says what it is and when it was made, e.g.
 * `uptake-report-20261202T133400Z.csv`: saved reports of different days never overwrite each other.
 */
export function sendCsv(res: Response, what: string[], csv: string, madeAt: Date = new Date()): void {
  res.setHeader('Content-Disposition', `attachment; filename="${csvFileName(what, madeAt)}"`);
  res.type('text/csv; charset=utf-8').send(csv);
}

export function csvFileName(what: string[], madeAt: Date): string {
  // Ids may hold any character but control characters: keep the file name to a portable set.
  const name = what
    .map((part) => part.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80))
    .filter(Boolean)
    .join('-');
  const stamp = madeAt
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `${name}-${stamp}.csv`;
}
