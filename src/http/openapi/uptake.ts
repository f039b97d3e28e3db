// The quality team's reports (admin key, role quality): uptake, experiments by arm, shadow versions.
// The query parameters are the ones the report parsers take (REPORT_PARAMETERS, ANALYSIS_PARAMETERS).
import {
  ALERT_PARAMETERS,
  ANALYSIS_PARAMETERS,
  GROUP_KEYS,
  REPORT_PARAMETERS,
  VARIATION_PARAMETERS,
} from '../../uptake/index.js';
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
  status: {
    description: 'open or acknowledged alarms; all (the default) for both',
    schema: { enum: ['open', 'acknowledged', 'all'] },
  },
  by: { description: 'the units compared', schema: { enum: ['clinician', 'site'] } },
};

const REPORT_FORMAT = {
  description:
    'json (default), csv (a download named after the report and its time), ndjson (one JSON row a line) or ' +
    'measure-report (FHIR R4 MeasureReports in a Bundle)',
  schema: { enum: ['json', 'csv', 'ndjson', 'measure-report'] },
};

const parametersOf = (names: readonly string[]): unknown[] =>
  names.map((name) => queryParameter(name, PARAMETER_DOCS[name]?.description ?? name, PARAMETER_DOCS[name]?.schema));

/** The uptake report in each of its formats. */
const uptakeReportAnswer = (): unknown => ({
  description: 'the report',
  headers: {
    'Content-Disposition': {
      description: 'with format=csv: attachment; filename="uptake-report-<yyyymmddThhmmssZ>.csv"',
      schema: { type: 'string' },
    },
  },
  content: {
    'application/json': { schema: { $ref: '#/components/schemas/UptakeReport' } },
    'text/csv': { schema: { type: 'string' } },
    'application/x-ndjson': { schema: { type: 'string' } },
    'application/fhir+json': {
      schema: { type: 'object', required: ['resourceType', 'type'], properties: { resourceType: { const: 'Bundle' } } },
    },
  },
});

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
          systemActionsReturned: count,
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

const ALERT = {
  type: 'object',
  required: ['id', 'raisedAt', 'status', 'signal', 'service', 'rule', 'direction', 'method', 'before', 'after'],
  properties: {
    id: { type: 'string' },
    raisedAt: { type: 'string', format: 'date-time' },
    status: { enum: ['open', 'acknowledged'] },
    signal: { enum: ['firing', 'errors', 'precondition-failed', 'latency'] },
    service: { type: 'string' },
    ruleSet: { type: 'string' },
    version: { type: 'string' },
    rule: { type: 'string' },
    direction: { enum: ['up', 'down'] },
    method: { type: 'string' },
    changeStartedAt: { type: ['string', 'null'] },
    before: { type: 'object' },
    after: { type: 'object' },
    acknowledged: {
      oneOf: [
        { type: 'null' },
        { type: 'object', required: ['at', 'by'], properties: { at: { type: 'string' }, by: { type: 'string' } } },
      ],
    },
  },
};

const ALERT_LIST = {
  type: 'object',
  required: ['generatedAt', 'query', 'method', 'detectors', 'alerts'],
  properties: {
    generatedAt: { type: 'string', format: 'date-time' },
    query: { type: 'object' },
    scannedThrough: { type: ['string', 'null'] },
    method: { type: 'object' },
    detectors: { type: 'object' },
    alerts: { type: 'array', items: { $ref: '#/components/schemas/Alert' } },
  },
};

const VARIATION_REPORT = {
  type: 'object',
  required: ['generatedAt', 'query', 'minCell', 'method', 'overall', 'units', 'pooled', 'outliers'],
  properties: {
    generatedAt: { type: 'string', format: 'date-time' },
    query: { type: 'object' },
    minCell: { type: 'integer', minimum: 1 },
    method: { type: 'object' },
    overall: { type: 'object' },
    units: { type: 'array', items: { type: 'object', required: ['unit', 'cards', 'acceptance', 'completion'] } },
    pooled: { type: 'object', required: ['withheld'] },
    outliers: { type: 'array', items: { type: 'object', required: ['unit', 'measure', 'direction'] } },
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
    Alert: ALERT,
    AlertList: ALERT_LIST,
    VariationReport: VARIATION_REPORT,
  },
  paths: {
    '/uptake/report': {
      get: {
        summary: 'Uptake: cards served, accepted, overridden, with reasons, by the groups asked',
        operationId: 'uptakeReport',
        security,
        parameters: [
          ...parametersOf(REPORT_PARAMETERS),
          queryParameter('format', REPORT_FORMAT.description, REPORT_FORMAT.schema),
        ],
        responses: {
          200: uptakeReportAnswer(),
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
    '/uptake/alerts': {
      get: {
        summary: 'Drift alarms: rule firing, errors, 412s and latency that changed, with the rates before and after',
        operationId: 'alerts',
        security,
        parameters: parametersOf(ALERT_PARAMETERS),
        responses: {
          200: jsonResponse('the alarms', { $ref: '#/components/schemas/AlertList' }),
          ...errors(400, 401, 403, 405, 429, 503),
        },
      },
    },
    '/uptake/alerts/{id}/acknowledge': {
      parameters: [pathParameter('id', 'the alarm id')],
      post: {
        summary: 'Acknowledges a drift alarm (stored with the admin key); the detector then learns the new level',
        operationId: 'acknowledgeAlert',
        security,
        requestBody: {
          required: false,
          content: {
            'application/json': {
              schema: { type: 'object', properties: { note: { type: 'string', description: 'why (kept)' } } },
            },
          },
        },
        responses: {
          200: jsonResponse('the alarm, acknowledged', {
            allOf: [
              { $ref: '#/components/schemas/Alert' },
              {
                type: 'object',
                required: ['alreadyAcknowledged'],
                properties: { alreadyAcknowledged: { type: 'boolean' } },
              },
            ],
          }),
          ...errors(400, 401, 403, 404, 405, 413, 415, 429, 503),
        },
      },
    },
    '/uptake/variation': {
      get: {
        summary: 'Cards, acceptance and completion per clinician or site, with funnel limits and outliers',
        operationId: 'variation',
        security,
        parameters: parametersOf(VARIATION_PARAMETERS),
        responses: {
          200: jsonResponse('the variation report', { $ref: '#/components/schemas/VariationReport' }),
          ...errors(400, 401, 403, 405, 429, 503),
        },
      },
    },
  },
};
