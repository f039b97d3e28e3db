// What a load balancer and an operations team call: /health, /ready, /metrics; and what a person
// opens first: the index, this document and its reference page.
import { errors, jsonResponse, adminKey, type RouteGroup } from './types.js';

const LOADING = {
  type: 'object',
  description: 'while the server starts: the port is open, the knowledge is being compiled',
  required: ['status', 'phase', 'progress'],
  properties: {
    status: { const: 'loading' },
    phase: { type: 'string', description: 'e.g. uptake ledger, knowledge, FHIR model' },
    progress: { type: 'string', description: 'e.g. "3 of 12 libraries compiled"' },
    libraries: {
      type: 'object',
      required: ['compiled', 'total'],
      properties: { compiled: { type: 'integer' }, total: { type: 'integer' } },
    },
    elapsedS: { type: 'number' },
  },
};

const READY = {
  type: 'object',
  required: ['status', 'knowledge'],
  properties: {
    status: { enum: ['ready', 'degraded', 'unavailable'] },
    knowledge: {
      type: 'object',
      required: ['loadedAt', 'services', 'unavailable', 'problems'],
      properties: {
        loadedAt: { type: 'string', format: 'date-time' },
        services: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'hook', 'ruleSet', 'version', 'status'],
            properties: {
              id: { type: 'string' },
              hook: { type: 'string' },
              ruleSet: { type: 'string' },
              version: { type: 'string' },
              status: { enum: ['draft', 'active', 'retired'] },
              shadow: { type: 'array', items: { type: 'string' } },
              experiment: { type: 'string' },
            },
          },
        },
        drafts: { type: 'object', required: ['served'], properties: { served: { type: 'boolean' } } },
        unavailable: { type: 'array', items: { type: 'object' } },
        error: { type: 'string' },
        problems: { type: 'array', items: { type: 'string' } },
        reload: { type: 'object' },
      },
    },
    auth: { type: 'object', required: ['verification'], properties: { verification: { enum: ['on', 'off'] } } },
    uptake: { type: 'object' },
    shadow: { type: 'object' },
    workers: {
      type: 'object',
      description: 'the evaluation threads (CDS_WORKERS >= 2); counts since start',
      required: ['wanted', 'ready', 'starting', 'crashes', 'stuck', 'restarts', 'failedRestarts'],
      properties: {
        wanted: { type: 'integer' },
        ready: { type: 'integer', description: 'holding the knowledge served: answering calls' },
        starting: { type: 'integer' },
        crashes: { type: 'integer' },
        stuck: { type: 'integer', description: 'stopped for not answering a call by its deadline' },
        restarts: { type: 'integer' },
        failedRestarts: { type: 'integer', description: 'threads started in place of another that could not load' },
      },
    },
  },
};

const INDEX = {
  type: 'object',
  required: ['name', 'version', 'links'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    links: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['href', 'title'],
        properties: { href: { type: 'string' }, title: { type: 'string' } },
      },
    },
  },
};

export const operationsGroup: RouteGroup = {
  tag: { name: 'Operations', description: 'Liveness, readiness, metrics, and what this server is' },
  schemas: { Ready: READY, Loading: LOADING },
  paths: {
    '/': {
      get: {
        summary: 'What this server is: its version and links (JSON, or HTML for a browser)',
        operationId: 'index',
        responses: {
          200: {
            description: 'the index',
            content: { 'application/json': { schema: INDEX }, 'text/html': { schema: { type: 'string' } } },
          },
          ...errors(405, 503),
        },
      },
    },
    '/health': {
      get: {
        summary: 'Liveness: 200 while the process answers, also while it starts',
        operationId: 'health',
        responses: {
          200: jsonResponse('alive', {
            type: 'object',
            required: ['status'],
            properties: { status: { const: 'ok' } },
          }),
        },
      },
    },
    '/ready': {
      get: {
        summary: 'Readiness: the knowledge loaded, the services, the uptake ledger, start-up progress',
        operationId: 'ready',
        responses: {
          200: jsonResponse('ready, or degraded (some services could not be loaded)', {
            $ref: '#/components/schemas/Ready',
          }),
          503: jsonResponse(
            'starting (status loading, with progress), or the knowledge could not be loaded at all',
            { oneOf: [{ $ref: '#/components/schemas/Loading' }, { $ref: '#/components/schemas/Ready' }] },
            { 'Retry-After': { description: 'while loading: seconds to wait', schema: { type: 'integer' } } },
          ),
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (text exposition format)',
        operationId: 'metrics',
        security: adminKey('operations'),
        responses: {
          200: { description: 'the metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errors(401, 403, 429, 503),
        },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        operationId: 'openapi',
        responses: { 200: jsonResponse('the OpenAPI 3.1 description', { type: 'object', required: ['openapi'] }) },
      },
    },
    '/docs': {
      get: {
        summary: 'The interactive reference of this document (served by this server, no external resource)',
        operationId: 'docs',
        responses: { 200: { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
    },
    '/docs/{file}': {
      parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        summary: 'The files of the reference page (scripts, styles, images)',
        operationId: 'docsFile',
        responses: {
          200: { description: 'the file', content: { '*/*': {} } },
          ...errors(404),
        },
      },
    },
    '/dashboard': {
      get: {
        summary: 'The quality dashboard (a page served by this server; it signs in with a quality admin key)',
        operationId: 'dashboard',
        responses: {
          200: { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } },
          ...errors(405, 503),
        },
      },
    },
    '/dashboard/{file}': {
      parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
      get: {
        summary: "The dashboard's script and style sheet",
        operationId: 'dashboardFile',
        responses: {
          200: { description: 'the file', content: { '*/*': {} } },
          ...errors(404, 405, 503),
        },
      },
    },
  },
};
