// The uptake report as FHIR R4 MeasureReport resources (type `summary`) in a collection Bundle: one per
// service (or rule set @ version) and period, with strata per version (or service), experiment arm and
// client. Small cells are withheld as in every export and marked with the WITHHELD_EXTENSION instead of a count.
import { randomUUID } from 'node:crypto';
import { invalidField } from '../errors.js';
import { suppressSmallCells } from './export.js';
import { suppressExperimentReport } from './experiment-export.js';
import type { ExperimentList } from './experiment-list.js';
import type { ExperimentPlan } from './experiment-plan.js';
import type { ExperimentReport, ExperimentReportOptions } from './experiment-report.js';
import type { ReportQuery } from './report-query.js';
import type { Report, ReportRow } from './report.js';

/** Canonical base of the definitions this server publishes (measure, extension, identifier system). */
export const FHIR_CANONICAL_BASE = 'https://cds-engine.org/fhir';
/** The measure: accepted ÷ cards with feedback, of the cards a service showed. */
export const ACCEPTANCE_MEASURE = `${FHIR_CANONICAL_BASE}/Measure/card-acceptance`;
/**
 * On a population (instead of its count) or a measureScore (instead of its value): the figure rests on
 * between 1 and k−1 cards or calls and is withheld; valueInteger is k.
 */
export const WITHHELD_EXTENSION = `${FHIR_CANONICAL_BASE}/StructureDefinition/small-cell-withheld`;
/** MeasureReport.identifier systems naming what a report is about: a service, or a rule set @ version. */
export const SERVICE_IDENTIFIER_SYSTEM = `${FHIR_CANONICAL_BASE}/service`;
export const VERSION_IDENTIFIER_SYSTEM = `${FHIR_CANONICAL_BASE}/rule-set-version`;
const POPULATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/measure-population';
const DAY_MS = 86_400_000;

/** What a MeasureReport export reads: the store's reports (UptakeStore satisfies it). */
export interface MeasureSource {
  report(query: ReportQuery): Promise<Report>;
  experiments(options: { plans: ExperimentPlan[]; now?: Date }): Promise<ExperimentList>;
  experimentReport(id: string, options?: ExperimentReportOptions): Promise<ExperimentReport | undefined>;
}

export interface MeasureExportOptions {
  minCell: number;
  /** The experiments the knowledge declares (arms, weights). */
  plans: ExperimentPlan[];
  now: Date;
  /** One MeasureReport per service (default) or per rule set @ version. */
  subject?: MeasureSubject;
}

/** One set of the measure's figures: a group or a stratum. `withheld` names the figures suppressed. */
interface Figures {
  calls: number | null;
  withFeedback: number | null;
  accepted: number | null;
  acceptance: number | null;
  withheld: { calls: boolean; withFeedback: boolean; accepted: boolean; acceptance: boolean };
}

type Json = Record<string, unknown>;

/** What each MeasureReport is about: a service, or a rule set @ version. */
export type MeasureSubject = 'service' | 'version';

export async function measureReportBundle(
  source: MeasureSource,
  query: ReportQuery,
  { minCell, plans, now, subject = 'service' }: MeasureExportOptions,
): Promise<Json> {
  const filters: ReportQuery = { ...query, groupBy: [], includeComments: false };
  const read = async (q: Partial<ReportQuery>) =>
    suppressSmallCells(await source.report({ ...filters, ...q }), minCell);
  const [bySubject, byServiceAndVersion, byDay, experiments] = await Promise.all([
    read({ groupBy: [subject] }),
    read({ groupBy: ['service', 'version'] }),
    // Without from / to, the period is the days of the subject's data.
    query.from && query.to ? Promise.resolve(undefined) : read({ groupBy: [subject, 'day'] }),
    subject === 'service' ? source.experiments({ plans, now }) : Promise.resolve(undefined),
  ]);
  const experimentReports = new Map<string, Promise<ExperimentReport | undefined>>();
  const experimentReport = (id: string) => {
    let report = experimentReports.get(id);
    if (!report) {
      const plan = plans.find((p) => p.id === id);
      report = source.experimentReport(id, { plan, from: query.from, to: query.to, now });
      experimentReports.set(id, report);
    }
    return report;
  };
  const versionOf = (r: ReportRow) => `${r.group.ruleSet}@${r.group.version}`;
  const entries: Json[] = [];
  for (const row of bySubject.rows) {
    const service = row.group.service ?? '';
    const same = (r: ReportRow) =>
      subject === 'service'
        ? r.group.service === service
        : r.group.ruleSet === row.group.ruleSet && r.group.version === row.group.version;
    const days = (byDay?.rows ?? []).filter(same).map((r) => r.group.day ?? '');
    days.sort();
    const start = query.from?.toISOString() ?? (days[0] ? `${days[0]}T00:00:00.000Z` : now.toISOString());
    // FHIR's Period.end includes its instant: the last millisecond before the (exclusive) end.
    const endBefore =
      query.to?.getTime() ?? (days.length > 0 ? Date.parse(`${days[days.length - 1]}T00:00:00Z`) + DAY_MS : undefined);
    const end = endBefore === undefined ? now.toISOString() : new Date(endBefore - 1).toISOString();
    // A service's report is stratified by version; a version's by the services that use it.
    const partStrata = byServiceAndVersion.rows.filter(same).map((r) => ({
      value: subject === 'service' ? versionOf(r) : (r.group.service ?? ''),
      figures: reportFigures(r),
    }));
    const clients = query.client ? [query.client] : [...new Set(row.coverageByClient.map((c) => c.iss ?? ''))];
    const only: Partial<ReportQuery> =
      subject === 'service' ? { service } : { ruleSet: row.group.ruleSet, version: row.group.version };
    const clientStrata = (
      await Promise.all(
        clients.filter(Boolean).map(async (iss) => {
          const r = (await read({ ...only, client: iss })).rows[0];
          return r ? { value: iss, figures: reportFigures(r) } : undefined;
        }),
      )
    ).filter((s) => s !== undefined);
    const armStrata = [];
    for (const e of experiments?.experiments.filter((x) => x.services.includes(service)) ?? []) {
      // An experiment's figures are over all its services and the period (the other filters do not apply).
      const report = await experimentReport(e.id);
      if (!report) continue;
      for (const arm of suppressExperimentReport(report, minCell).arms) {
        const names = new Set(arm.suppressed ?? []);
        armStrata.push({
          value: `${e.id}/${arm.arm}`,
          figures: {
            calls: arm.calls,
            withFeedback: arm.cardsWithFeedback,
            accepted: arm.accepted,
            acceptance: arm.acceptance.rate,
            withheld: {
              calls: names.has('calls'),
              withFeedback: names.has('cardsWithFeedback'),
              accepted: names.has('accepted'),
              acceptance: names.has('acceptance'),
            },
          },
        });
      }
    }
    const group: Json = {
      code: { text: 'Acceptance of the cards shown: accepted ÷ cards with feedback' },
      ...figuresJson(reportFigures(row), minCell),
      stratifier: [
        subject === 'service'
          ? stratifier('version', 'Rule set version', partStrata, minCell)
          : stratifier('service', 'Service', partStrata, minCell),
        stratifier('arm', 'Experiment arm (experiment/arm)', armStrata, minCell),
        stratifier('client', 'Client (JWT iss)', clientStrata, minCell),
      ].filter((s) => s !== undefined),
    };
    if ((group.stratifier as unknown[]).length === 0) delete group.stratifier;
    const resource: Json = {
      resourceType: 'MeasureReport',
      id: randomUUID(),
      identifier: [
        subject === 'service'
          ? { system: SERVICE_IDENTIFIER_SYSTEM, value: service }
          : { system: VERSION_IDENTIFIER_SYSTEM, value: versionOf(row) },
      ],
      status: 'complete',
      type: 'summary',
      measure: ACCEPTANCE_MEASURE,
      date: now.toISOString(),
      period: { start, end },
      improvementNotation: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-improvement-notation', code: 'increase' }],
      },
      group: [group],
    };
    entries.push({ fullUrl: `urn:uuid:${resource.id as string}`, resource });
  }
  return { resourceType: 'Bundle', id: randomUUID(), type: 'collection', timestamp: now.toISOString(), entry: entries };
}

function reportFigures(row: ReportRow): Figures {
  const names = new Set(row.suppressed ?? []);
  return {
    calls: row.invocations,
    withFeedback: row.cardsWithFeedback,
    accepted: row.accepted,
    acceptance: row.acceptance.rate,
    withheld: {
      calls: names.has('invocations'),
      withFeedback: names.has('cardsWithFeedback'),
      accepted: names.has('accepted'),
      acceptance: names.has('acceptance'),
    },
  };
}

function stratifier(
  code: string,
  text: string,
  strata: Array<{ value: string; figures: Figures }>,
  k: number,
): Json | undefined {
  if (strata.length === 0) return undefined;
  return {
    code: [{ coding: [{ system: `${FHIR_CANONICAL_BASE}/CodeSystem/uptake-stratifier`, code }], text }],
    stratum: strata.map((s) => ({ value: { text: s.value }, ...figuresJson(s.figures, k) })),
  };
}

function figuresJson(f: Figures, k: number): Json {
  const withheld = [{ url: WITHHELD_EXTENSION, valueInteger: k }];
  const population = (code: string, count: number | null, isWithheld: boolean): Json => ({
    code: { coding: [{ system: POPULATION_SYSTEM, code }] },
    ...(isWithheld ? { extension: withheld } : count !== null ? { count } : {}),
  });
  const out: Json = {
    population: [
      population('initial-population', f.calls, f.withheld.calls),
      population('denominator', f.withFeedback, f.withheld.withFeedback),
      population('numerator', f.accepted, f.withheld.accepted),
    ],
  };
  if (f.withheld.acceptance) out.measureScore = { extension: withheld };
  else if (f.acceptance !== null) out.measureScore = { value: f.acceptance };
  return out;
}

/** A MeasureReport export is one report per service (groupBy absent or `service`) or per version. */
export function measureSubject(query: ReportQuery): MeasureSubject {
  const [subject, ...more] = query.groupBy;
  if (more.length > 0 || (subject !== undefined && subject !== 'service' && subject !== 'version')) {
    throw invalidField('groupBy', 'groupBy: format=measure-report makes one report per service or per version');
  }
  if (query.includeComments)
    throw invalidField('comments', 'comments: override comments are not part of format=measure-report');
  return subject ?? 'service';
}
