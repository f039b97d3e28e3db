// The uptake report as NDJSON, for warehouses: one JSON object a line.
import type { Report } from './report.js';

/** One JSON object a line: each report row with the report's time and small-cell threshold. */
export function reportToNdjson(report: Report): string {
  return report.rows
    .map((row) => `${JSON.stringify({ generatedAt: report.generatedAt, minCell: report.minCell, ...row })}\n`)
    .join('');
}
