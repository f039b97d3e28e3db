// The knowledge engineers' surface (admin key, role knowledge): reload, explain a card, stop an experiment.
import { MAX_STOP_REASON } from '../admin.js';
import { adminKey, errors, jsonResponse, pathParameter, type RouteGroup } from './types.js';

const RELOAD_OUTCOME = {
  type: 'object',
  required: ['ok', 'trigger', 'at', 'durationMs', 'loadedAt', 'services', 'problems'],
  properties: {
    ok: { type: 'boolean' },
    trigger: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    durationMs: { type: 'number' },
    loadedAt: { type: 'string', format: 'date-time' },
    services: { type: 'integer' },
    problems: { type: 'array', items: { type: 'string' } },
  },
};

const security = adminKey('knowledge');

export const adminGroup: RouteGroup = {
  tag: { name: 'Admin', description: 'Knowledge operations (admin key, role knowledge)' },
  schemas: { ReloadOutcome: RELOAD_OUTCOME },
  paths: {
    '/admin/reload': {
      post: {
        summary: 'Reloads the knowledge now; the last good set keeps serving if the new one is refused',
        operationId: 'reload',
        security,
        responses: {
          200: jsonResponse('the new set serves', { $ref: '#/components/schemas/ReloadOutcome' }),
          422: jsonResponse('the new set was refused: every problem', { $ref: '#/components/schemas/ReloadOutcome' }),
          ...errors(401, 403, 404, 429, 503),
        },
      },
      get: {
        summary: 'Reloads and failures so far, and the last outcome',
        operationId: 'reloadStatus',
        security,
        responses: {
          200: jsonResponse('the reload status', {
            type: 'object',
            required: ['reloads', 'failures'],
            properties: {
              reloads: { type: 'integer' },
              failures: { type: 'integer' },
              last: { $ref: '#/components/schemas/ReloadOutcome' },
            },
          }),
          ...errors(401, 403, 404, 429, 503),
        },
      },
    },
    '/admin/explain/{card}': {
      parameters: [pathParameter('card', 'the uuid of a served card')],
      get: {
        summary: 'Why a served card was served: its ledger row, the conditions with the values they saw',
        operationId: 'explainCard',
        security,
        responses: {
          200: jsonResponse('the explanation (identifiers withheld)', { type: 'object' }),
          ...errors(400, 401, 403, 404, 405, 429, 503),
        },
      },
    },
    '/admin/experiments/{id}/stop': {
      parameters: [pathParameter('id', 'the experiment id')],
      post: {
        summary: 'Stops an experiment on every instance: later calls get the live version',
        operationId: 'stopExperiment',
        security,
        requestBody: {
          required: false,
          content: {
            'application/json': {
              schema: { type: 'object', properties: { reason: { type: 'string', maxLength: MAX_STOP_REASON } } },
            },
          },
        },
        responses: {
          200: jsonResponse('stopped (or already stopped)', {
            type: 'object',
            required: ['experiment', 'stoppedAt', 'alreadyStopped'],
            properties: {
              experiment: { type: 'string' },
              stoppedAt: { type: 'string' },
              stoppedBy: { type: ['string', 'null'] },
              reason: { type: ['string', 'null'] },
              alreadyStopped: { type: 'boolean' },
            },
          }),
          ...errors(400, 401, 403, 404, 405, 413, 415, 429, 503),
        },
      },
    },
  },
};
