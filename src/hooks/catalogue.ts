// The hooks this server serves, with their context fields as the CDS Hooks Library (v1.0.1, types
// from the Library CI logical models) defines them. Unknown extra fields are always accepted:
// hooks gain optional fields in minor versions.

const reference = (types: string[]) => ({
  type: 'string',
  pattern: `^(${types.join('|')})/[A-Za-z0-9\\-.]{1,64}$`,
  description: `a relative reference: ${types.join(' | ')}/id`,
});
const anyReference = {
  type: 'string',
  pattern: '^[A-Za-z]+/[A-Za-z0-9\\-.]{1,64}$',
  description: 'a relative reference Type/id',
};
const fhirId = { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$', description: 'a FHIR id' };
const bundle = {
  type: 'object',
  required: ['resourceType'],
  properties: {
    resourceType: { const: 'Bundle' },
    entry: {
      type: 'array',
      items: { type: 'object', properties: { resource: { type: 'object', required: ['resourceType'] } } },
    },
  },
};

export interface HookDefinition {
  name: string;
  /** JSON Schema of the hook's context object. */
  context: Record<string, unknown>;
  /** Context fields that may be used as prefetch tokens ({{context.X}}). */
  prefetchTokens: string[];
  /** The resource types userId may name (none when the hook has no userId): the user tokens it can fill. */
  userTypes: string[];
}

const PRACTITIONER_USERS = ['Practitioner', 'PractitionerRole'];
const ANY_USERS = ['Practitioner', 'PractitionerRole', 'Patient', 'RelatedPerson'];
const practitionerUser = reference(PRACTITIONER_USERS);
const anyUser = reference(ANY_USERS);

function contextSchema(required: string[], properties: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', required, properties };
}

export const HOOKS: Record<string, HookDefinition> = {
  'patient-view': {
    name: 'patient-view',
    context: contextSchema(['userId', 'patientId'], { userId: anyUser, patientId: fhirId, encounterId: fhirId }),
    prefetchTokens: ['userId', 'patientId', 'encounterId'],
    userTypes: ANY_USERS,
  },
  'order-select': {
    name: 'order-select',
    context: contextSchema(['userId', 'patientId', 'selections', 'draftOrders'], {
      userId: practitionerUser,
      patientId: fhirId,
      encounterId: fhirId,
      selections: { type: 'array', minItems: 1, items: anyReference },
      draftOrders: bundle,
    }),
    prefetchTokens: ['userId', 'patientId', 'encounterId'],
    userTypes: PRACTITIONER_USERS,
  },
  'order-sign': {
    name: 'order-sign',
    context: contextSchema(['userId', 'patientId', 'draftOrders'], {
      userId: practitionerUser,
      patientId: fhirId,
      encounterId: fhirId,
      draftOrders: bundle,
    }),
    prefetchTokens: ['userId', 'patientId', 'encounterId'],
    userTypes: PRACTITIONER_USERS,
  },
  'order-dispatch': {
    name: 'order-dispatch',
    context: contextSchema(['patientId', 'dispatchedOrders', 'performer'], {
      patientId: fhirId,
      dispatchedOrders: { type: 'array', minItems: 1, items: anyReference },
      performer: anyReference,
      fulfillmentTasks: {
        type: 'array',
        items: { type: 'object', required: ['resourceType'], properties: { resourceType: { const: 'Task' } } },
      },
    }),
    prefetchTokens: ['patientId', 'performer'],
    userTypes: [],
  },
  'appointment-book': {
    name: 'appointment-book',
    context: contextSchema(['userId', 'patientId', 'appointments'], {
      userId: anyUser,
      patientId: fhirId,
      encounterId: fhirId,
      appointments: bundle,
    }),
    prefetchTokens: ['userId', 'patientId', 'encounterId'],
    userTypes: ANY_USERS,
  },
  'encounter-start': {
    name: 'encounter-start',
    context: contextSchema(['userId', 'patientId', 'encounterId'], {
      userId: practitionerUser,
      patientId: fhirId,
      encounterId: fhirId,
    }),
    prefetchTokens: ['userId', 'patientId', 'encounterId'],
    userTypes: PRACTITIONER_USERS,
  },
  'encounter-discharge': {
    name: 'encounter-discharge',
    context: contextSchema(['userId', 'patientId', 'encounterId'], {
      userId: practitionerUser,
      patientId: fhirId,
      encounterId: fhirId,
    }),
    prefetchTokens: ['userId', 'patientId', 'encounterId'],
    userTypes: PRACTITIONER_USERS,
  },
};

export function isKnownHook(name: string): boolean {
  return Object.hasOwn(HOOKS, name);
}
