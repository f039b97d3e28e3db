// The quality team's reports (admin key, role quality): uptake, experiments by arm, shadow versions.
// The query parameters are the ones the report parsers take (REPORT_PARAMETERS, ANALYSIS_PARAMETERS).
import { ANALYSIS_PARAMETERS, GROUP_KEYS, REPORT_PARAMETERS } from '../../uptake/index.js';
import {
  adminKey,
  errors,
  jsonResponse,
  pathParameter,
  queryParameter,
  type RouteGroup,
  type Schema,
} from './types.js';

const PARAMETER_DOCS: Record<string, { description: string; schema?: Schema }> = {
  from: { description: 'first day or time included (ISO 8601)' },
  to: { description: 'last day or time included (ISO 8601)' },
  service: { description: 'only this service id' },
  ruleSet: { description: 'only this rule set id' },
  version: { description: 'only this rule set version' },
  rule: { description: 'only this rule' },
  indicator: { description: 'only cards of this indicator', schema: { enum: ['info', 'warning', 'critical'] } },
  client: { description: 'only calls of this client (iss)' },
  groupBy: { description: `comma-separated: ${GROUP_KEYS.join(', ')}` },
  comments: {
    description: 'true: add override comments (free text that may hold PHI)',
    schema: { enum: ['true', 'false'] },
  },
  format: {
    description: 'json (default) or csv (a download named after the report and its time)',
    schema: { enum: ['json', 'csv'] },
  },
};

const parametersOf = (names: readonly string[]): unknown[] =>
  names.map((name) => queryParameter(name, PARAMETER_DOCS[name]?.description ?? name, PARAMETER_DOCS[name]?.schema));

/** JSON, or CSV when format=csv, with its Content-Disposition. */
const reportAnswer = (what: string, schema: Schema): unknown => ({
  description: what,
  headers: {
    'Content-Disposition': {
      description: 'with format=csv: attachment; filename="<report>-<yyyymmddThhmmssZ>.csv"',
      schema: { type: 'string' },
    },
  },
  content: { 'application/json': { schema }, 'text/csv': { schema: { type: 'string' } } },
});

const count = { type: ['integer', 'null'], description: 'null when withheld (a count below the small-cell threshold)' };

const UPTAKE_REPORT = {
  type: 'object',
  required: ['generatedAt', 'query', 'minCell', 'rows'],
  properties: {
    generatedAt: { type: 'string', format: 'date-time' },
    query: { type: 'object', required: ['groupBy'] },
    minCell: { type: 'integer', minimum: 1 },
    rows: {
      type: 'array',
      items: {
        type: 'object',
        required: ['group', 'invocations', 'cardsServed', 'accepted', 'overridden'],
        properties: {
          group: { type: 'object' },
          invocations: count,
          cardsServed: count,
          accepted: count,
          overridden: count,
        },
      },
    },
  },
};

const EXPERIMENT_LIST = {
  type: 'object',
  required: ['experiments', 'minCell'],
  properties: {
    minCell: { type: 'integer' },
    experiments: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'services', 'declared', 'status'],
        properties: {
          id: { type: 'string' },
          services: { type: 'array', items: { type: 'string' } },
          declared: { type: 'boolean' },
          status: { enum: ['scheduled', 'running', 'ended', 'stopped'] },
        },
      },
    },
  },
};

const EXPERIMENT_REPORT = {
  type: 'object',
  required: ['generatedAt', 'experiment'],
  properties: {
    generatedAt: { type: 'string', format: 'date-time' },
    experiment: { type: 'object', required: ['id', 'services', 'declared', 'status'] },
  },
};

const SHADOW_REPORT = {
  type: 'object',
  required: ['generatedAt', 'service', 'query', 'withoutLive', 'comparisons'],
  properties: {
    generatedAt: { type: 'string', format: 'date-time' },
    service: { type: 'string' },
    query: { type: 'object' },
    declaredShadows: { type: ['array', 'null'], items: { type: 'string' } },
    withoutLive: { type: 'integer' },
    comparisons: { type: 'array', items: { type: 'object' } },
  },
};

const security = adminKey('quality');

export const uptakeGroup: RouteGroup = {
  tag: {
    name: 'Uptake',
    description: 'What happened to the cards: reports for quality teams (admin key, role quality)',
  },
  schemas: {
    UptakeReport: UPTAKE_REPORT,
    ExperimentList: EXPERIMENT_LIST,
    ExperimentReport: EXPERIMENT_REPORT,
    ShadowReport: SHADOW_REPORT,
  },
  paths: {
    '/uptake/report': {
      get: {
        summary: 'Uptake: cards served, accepted, overridden, with reasons, by the groups asked',
        operationId: 'uptakeReport',
        security,
        parameters: parametersOf([...REPORT_PARAMETERS, 'format']),
        responses: {
          200: reportAnswer('the report', { $ref: '#/components/schemas/UptakeReport' }),
          ...errors(400, 401, 403, 404, 405, 429, 503),
        },
      },
    },
    '/uptake/experiments': {
      get: {
        summary: 'Every experiment the knowledge declares or the ledger has calls of',
        operationId: 'experiments',
        security,
        responses: {
          200: jsonResponse('the experiments', { $ref: '#/components/schemas/ExperimentList' }),
          ...errors(400, 401, 403, 404, 405, 429, 503),
        },
      },
    },
    '/uptake/experiments/{id}': {
      parameters: [pathParameter('id', 'the experiment id')],
      get: {
        summary: "An experiment's report by assigned arm",
        operationId: 'experimentReport',
        security,
        parameters: parametersOf(ANALYSIS_PARAMETERS),
        responses: {
          200: reportAnswer('the report', { $ref: '#/components/schemas/ExperimentReport' }),
          ...errors(400, 401, 403, 404, 405, 429, 503),
        },
      },
    },
    '/uptake/shadow/{service}': {
      parameters: [pathParameter('service', 'the service id')],
      get: {
        summary: 'Each shadow version against the live one, on the same calls',
        operationId: 'shadowReport',
        security,
        parameters: parametersOf(ANALYSIS_PARAMETERS),
        responses: {
          200: reportAnswer('the report', { $ref: '#/components/schemas/ShadowReport' }),
          ...errors(400, 401, 403, 404, 405, 429, 503),
        },
      },
    },
  },
};
