// The FHIR objects' date reader must give exactly what cql-execution's DateTime.parse gives.
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { parseDateTime } from '../../src/engine/cql/fhir-object.js';

const require = createRequire(import.meta.url);
const cql = require('cql-execution') as { DateTime: { parse(text: string): unknown } };

const fields = (v: unknown) => (v == null ? v : { class: v.constructor.name, ...(v as Record<string, unknown>) });

describe("the FHIR objects' date-time reader", () => {
  it('reads every text near the edges of the calendar and of the forms as DateTime.parse does', () => {
    const days = ['0999-12-31', '1000-01-01', '2024-02-29', '2023-02-29', '1900-02-29', '2000-02-29', '2026-04-30'];
    days.push('2026-04-31', '2026-13-01', '2026-00-10', '2026-06-00', '2026-06-32', '9998-12-31', '9999-12-31');
    days.push('0001-01-01', '2026-6-01', '20260601', '2026-06-01x');
    const times = ['', 'T00:00:00', 'T23:59:59', 'T24:00:00', 'T23:60:00', 'T23:59:60', 'T12:30:59.123', 'T12:30:59.1'];
    times.push('T12:30', 'T12', 'T12:30:59.12345');
    const zones = ['', '+00:00', '-00:00', 'Z', '+05:30', '-04:00', '+14:00', '+14:59', '-15:00', '+23:59', '+24:00'];
    zones.push('-10:60', '+0100', '+01');
    let quick = 0;
    for (const d of days)
      for (const t of times)
        for (const z of zones) {
          const text = `${d}${t}${z}`;
          expect(fields(parseDateTime(text)), text).toEqual(fields(cql.DateTime.parse(text)));
          if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{3})?[+-]\d{2}:\d{2})?$/.test(text)) quick++;
        }
    expect(quick).toBeGreaterThan(100);
  });
});
