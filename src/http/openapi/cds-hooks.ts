// CDS Hooks 2.0.1: discovery, service calls and feedback. The request schemas are the ones the
// server validates with (the envelope, each hook's context, the feedback item).
import { HOOK_REQUEST_SCHEMA, HOOKS } from '../../hooks/index.js';
import { FEEDBACK_ITEM_SCHEMA, MAX_FEEDBACK_ITEMS } from '../../uptake/index.js';
import { KNOWLEDGE_EXTENSION } from '../../cards/index.js';
import { errors, jsonResponse, pathParameter, ref, type RouteGroup } from './types.js';

const cdsJwt = [{ cdsClientJwt: [] }];

const coding = {
  type: 'object',
  required: ['code'],
  properties: { system: { type: 'string' }, code: { type: 'string' }, display: { type: 'string' } },
};

/** A CDS Hooks 2.0.1 Action: a resource for create and update, a Type/id resourceId for delete; no uuid. */
const ACTION = {
  type: 'object',
  required: ['type', 'description'],
  properties: {
    type: { enum: ['create', 'update', 'delete'] },
    description: { type: 'string', minLength: 1 },
    resource: { type: 'object', required: ['resourceType'] },
    resourceId: { type: 'string', pattern: '^[A-Za-z]+/[A-Za-z0-9\\-.]{1,64}$' },
  },
  not: { required: ['uuid'] },
  allOf: [
    { if: { properties: { type: { enum: ['create', 'update'] } } }, then: { required: ['resource'] } },
    { if: { properties: { type: { const: 'delete' } } }, then: { required: ['resourceId'] } },
  ],
};

const CARD = {
  type: 'object',
  description: 'A CDS Hooks 2.0.1 card; every card is checked against the card rules before it is sent',
  required: ['uuid', 'summary', 'indicator', 'source'],
  properties: {
    uuid: { type: 'string' },
    summary: { type: 'string', minLength: 1, maxLength: 139 },
    detail: { type: 'string' },
    indicator: { enum: ['info', 'warning', 'critical'] },
    source: {
      type: 'object',
      required: ['label'],
      properties: {
        label: { type: 'string', minLength: 1 },
        url: { type: 'string', format: 'uri' },
        icon: { type: 'string', format: 'uri' },
        topic: coding,
      },
    },
    suggestions: {
      type: 'array',
      items: {
        type: 'object',
        required: ['label'],
        properties: {
          label: { type: 'string', minLength: 1 },
          uuid: { type: 'string' },
          isRecommended: { type: 'boolean' },
          actions: { type: 'array', items: ref('Action') },
        },
      },
    },
    selectionBehavior: { enum: ['at-most-one', 'any'] },
    overrideReasons: { type: 'array', items: coding },
    links: {
      type: 'array',
      items: {
        type: 'object',
        required: ['label', 'url', 'type'],
        properties: {
          label: { type: 'string' },
          url: { type: 'string', format: 'uri' },
          type: { enum: ['absolute', 'smart'] },
          appContext: { type: 'string' },
        },
      },
    },
    extension: {
      type: 'object',
      description: `${KNOWLEDGE_EXTENSION}: the service, rule set @ version, rule, CQL libraries (and arm) behind the card; beside it, any keys the card template's own extension gives`,
    },
  },
};

/** The hook request: the envelope the server checks, and the context of the hook it names. */
const HOOK_REQUEST = {
  allOf: [
    HOOK_REQUEST_SCHEMA,
    {
      oneOf: Object.values(HOOKS).map((hook) => ({
        title: hook.name,
        properties: { hook: { const: hook.name }, context: hook.context },
      })),
    },
  ],
};

const DISCOVERY_SERVICE = {
  type: 'object',
  required: ['hook', 'description', 'id'],
  properties: {
    hook: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string' },
    id: { type: 'string' },
    prefetch: { type: 'object', additionalProperties: { type: 'string' } },
    usageRequirements: { type: 'string' },
    extension: { type: 'object' },
  },
};

export const cdsHooksGroup: RouteGroup = {
  tag: { name: 'CDS Hooks', description: 'The EHR-facing API of CDS Hooks 2.0.1; every call carries the EHR JWT' },
  schemas: {
    HookRequest: HOOK_REQUEST,
    Card: CARD,
    Action: ACTION,
    DiscoveryService: DISCOVERY_SERVICE,
    FeedbackItem: FEEDBACK_ITEM_SCHEMA,
  },
  paths: {
    '/cds-services': {
      get: {
        summary: 'Discovery: the services this server offers',
        operationId: 'discovery',
        security: cdsJwt,
        responses: {
          200: jsonResponse('the services that can be served', {
            type: 'object',
            required: ['services'],
            properties: { services: { type: 'array', items: ref('DiscoveryService') } },
          }),
          ...errors(401, 405, 429, 503),
        },
      },
    },
    '/cds-services/{id}': {
      parameters: [pathParameter('id', 'the service id, from discovery')],
      post: {
        summary: 'Calls a service: cards for the hook context',
        operationId: 'callService',
        security: cdsJwt,
        requestBody: {
          required: true,
          content: Object.fromEntries(
            ['application/json', 'application/fhir+json', 'application/json+fhir'].map((t) => [
              t,
              { schema: ref('HookRequest') },
            ]),
          ),
        },
        responses: {
          200: jsonResponse('the cards', {
            type: 'object',
            required: ['cards'],
            properties: {
              cards: { type: 'array', items: ref('Card') },
              systemActions: {
                type: 'array',
                minItems: 1,
                description: 'actions the EHR applies without the user; absent when there are none',
                items: ref('Action'),
              },
            },
          }),
          ...errors(400, 401, 404, 405, 412, 413, 415, 422, 429, 500, 503),
        },
      },
    },
    '/cds-services/{id}/feedback': {
      parameters: [pathParameter('id', 'the service id whose cards the feedback is about')],
      post: {
        summary: 'Feedback on served cards (accepted, overridden), joined to the uptake ledger',
        operationId: 'feedback',
        security: cdsJwt,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['feedback'],
                properties: {
                  feedback: { type: 'array', minItems: 1, maxItems: MAX_FEEDBACK_ITEMS, items: ref('FeedbackItem') },
                },
              },
            },
          },
        },
        responses: {
          200: jsonResponse(
            'every item stored (or already stored), one information issue each',
            ref('OperationOutcome'),
          ),
          400: jsonResponse(
            'one item or more rejected: an error issue for each, named feedback[i]',
            ref('OperationOutcome'),
          ),
          ...errors(401, 404, 405, 413, 415, 429, 500, 503),
        },
      },
    },
  },
};
