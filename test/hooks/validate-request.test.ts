import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CdsError } from '../../src/errors.js';
import { HOOKS, isKnownHook, validateHookRequest } from '../../src/hooks/index.js';

const ALL_HOOKS = [
  'patient-view',
  'order-select',
  'order-sign',
  'order-dispatch',
  'appointment-book',
  'encounter-start',
  'encounter-discharge',
];

function example(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`./examples/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

function collection(resources: Array<Record<string, unknown>>): Record<string, unknown> {
  return { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
}

/** The smallest context each hook accepts; `tag` keeps the data of each test distinct. */
function minimalContext(hook: string, tag: string): Record<string, unknown> {
  switch (hook) {
    case 'patient-view':
      return { userId: `Practitioner/dr-${tag}`, patientId: `pt-${tag}` };
    case 'order-select':
      return {
        userId: `PractitionerRole/role-${tag}`,
        patientId: `pt-${tag}`,
        selections: [`MedicationRequest/mr-${tag}`],
        draftOrders: collection([{ resourceType: 'MedicationRequest', id: `mr-${tag}`, status: 'draft' }]),
      };
    case 'order-sign':
      return {
        userId: `Practitioner/dr-${tag}`,
        patientId: `pt-${tag}`,
        draftOrders: collection([{ resourceType: 'ServiceRequest', id: `sr-${tag}`, status: 'draft' }]),
      };
    case 'order-dispatch':
      return {
        patientId: `pt-${tag}`,
        dispatchedOrders: [`ServiceRequest/sr-${tag}`],
        performer: `Organization/lab-${tag}`,
      };
    case 'appointment-book':
      return {
        userId: `Patient/pt-${tag}`,
        patientId: `pt-${tag}`,
        appointments: collection([{ resourceType: 'Appointment', id: `appt-${tag}`, status: 'proposed' }]),
      };
    case 'encounter-start':
    case 'encounter-discharge':
      return { userId: `Practitioner/dr-${tag}`, patientId: `pt-${tag}`, encounterId: `enc-${tag}` };
    default:
      throw new Error(`no minimal context for ${hook}`);
  }
}

function request(
  hook: string,
  context: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { hook, hookInstance: randomUUID(), context, ...extra };
}

function fhirAuthorization(accessToken: string): Record<string, unknown> {
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: 300,
    scope: 'user/Patient.read',
    subject: 'cds-service',
  };
}

function rejection(body: unknown, served: string[]): CdsError {
  try {
    validateHookRequest(body, served);
  } catch (err) {
    expect(err).toBeInstanceOf(CdsError);
    return err as CdsError;
  }
  return expect.fail('expected the request to be rejected');
}

function locations(err: CdsError): string[] {
  return err.issues.map((i) => i.expression?.[0] ?? '(none)');
}

describe('validateHookRequest: valid requests', () => {
  it.each(ALL_HOOKS)('accepts a minimal valid %s request', (hook) => {
    const body = request(hook, minimalContext(hook, `min-${hook}`));

    expect(validateHookRequest(body, [hook])).toEqual(body);
  });

  it('describes exactly the seven hooks of the catalogue', () => {
    expect(Object.keys(HOOKS).sort()).toEqual([...ALL_HOOKS].sort());
    for (const hook of ALL_HOOKS) expect(isKnownHook(hook)).toBe(true);
    expect(isKnownHook('medication-prescribe')).toBe(false);
  });

  it('accepts a request for one of several hooks the service serves', () => {
    const body = request('encounter-discharge', minimalContext('encounter-discharge', 'several-served'));

    expect(validateHookRequest(body, ['patient-view', 'encounter-discharge'])).toEqual(body);
  });

  it('accepts the official patient-view example with prefetch and fhirAuthorization', () => {
    const body = example('request-patient-view-prefetch-fhirauth.json');

    expect(validateHookRequest(body, ['patient-view'])).toEqual(body);
  });

  it('accepts the official order-select R4 context in a full request, although its Bundle has no type', () => {
    const { context } = example('order-select-context-r4.json') as { context: Record<string, unknown> };
    const body = request('order-select', context);

    expect(validateHookRequest(body, ['order-select'])).toEqual(body);
  });

  it('accepts unknown extra context fields', () => {
    const body = request('patient-view', {
      ...minimalContext('patient-view', 'extra-ctx'),
      locationId: 'loc-extra-ctx',
      futureField: { nested: true },
    });

    expect(validateHookRequest(body, ['patient-view'])).toEqual(body);
  });

  it('accepts unknown extra top-level fields', () => {
    const body = request('order-sign', minimalContext('order-sign', 'extra-top'), {
      futureTopLevel: 'value-extra-top',
    });

    expect(validateHookRequest(body, ['order-sign'])).toEqual(body);
  });

  it('accepts an extension object', () => {
    const body = request('encounter-start', minimalContext('encounter-start', 'ext'), {
      extension: { 'com.example.timestamp': '2026-01-02T03:04:05Z', 'com.example.flags': { a: 1 } },
    });

    expect(validateHookRequest(body, ['encounter-start'])).toEqual(body);
  });

  it('accepts fhirServer without fhirAuthorization', () => {
    const body = request('patient-view', minimalContext('patient-view', 'open-server'), {
      fhirServer: 'http://open.example:9080/fhir',
    });

    expect(validateHookRequest(body, ['patient-view'])).toEqual(body);
  });

  it('accepts fhirServer with a complete fhirAuthorization', () => {
    const body = request('order-sign', minimalContext('order-sign', 'auth-ok'), {
      fhirServer: 'https://fhir.auth-ok.example/r4',
      fhirAuthorization: { ...fhirAuthorization('tok-auth-ok'), patient: 'pt-auth-ok' },
    });

    expect(validateHookRequest(body, ['order-sign'])).toEqual(body);
  });

  it('accepts a patient-view request from a Patient or a RelatedPerson', () => {
    const patient = request('patient-view', { userId: 'Patient/pt-self-view', patientId: 'pt-self-view' });
    const proxy = request('patient-view', { userId: 'RelatedPerson/rp-proxy-view', patientId: 'pt-proxy-view' });

    expect(validateHookRequest(patient, ['patient-view'])).toEqual(patient);
    expect(validateHookRequest(proxy, ['patient-view'])).toEqual(proxy);
  });

  it('accepts an order-dispatch request with fulfillmentTasks', () => {
    const body = request('order-dispatch', {
      ...minimalContext('order-dispatch', 'tasks'),
      fulfillmentTasks: [
        { resourceType: 'Task', id: 'task-tasks', status: 'draft', focus: { reference: 'ServiceRequest/sr-tasks' } },
      ],
    });

    expect(validateHookRequest(body, ['order-dispatch'])).toEqual(body);
  });
});

describe('validateHookRequest: required context fields', () => {
  const required: Array<[string, string]> = [
    ['patient-view', 'userId'],
    ['patient-view', 'patientId'],
    ['order-select', 'userId'],
    ['order-select', 'patientId'],
    ['order-select', 'selections'],
    ['order-select', 'draftOrders'],
    ['order-sign', 'userId'],
    ['order-sign', 'patientId'],
    ['order-sign', 'draftOrders'],
    ['order-dispatch', 'patientId'],
    ['order-dispatch', 'dispatchedOrders'],
    ['order-dispatch', 'performer'],
    ['appointment-book', 'userId'],
    ['appointment-book', 'patientId'],
    ['appointment-book', 'appointments'],
    ['encounter-start', 'userId'],
    ['encounter-start', 'patientId'],
    ['encounter-start', 'encounterId'],
    ['encounter-discharge', 'userId'],
    ['encounter-discharge', 'patientId'],
    ['encounter-discharge', 'encounterId'],
  ];

  it.each(required)('rejects a %s request without context.%s with 400 naming that field', (hook, field) => {
    const context = minimalContext(hook, `missing-${hook}-${field}`);
    delete context[field];

    const err = rejection(request(hook, context), [hook]);

    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid-request');
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ severity: 'error', code: 'required', expression: [`context.${field}`] });
    expect(err.message).toContain(`context.${field}`);
  });

  it('accepts an order-dispatch request without userId, which that hook does not have', () => {
    const context = minimalContext('order-dispatch', 'no-user');

    expect(context).not.toHaveProperty('userId');
    expect(() => validateHookRequest(request('order-dispatch', context), ['order-dispatch'])).not.toThrow();
  });

  it('reports two missing context fields as two issues', () => {
    const err = rejection(request('encounter-start', { userId: 'Practitioner/dr-two-missing' }), ['encounter-start']);

    expect(err.status).toBe(400);
    expect(locations(err).sort()).toEqual(['context.encounterId', 'context.patientId']);
    expect(err.message).toContain('context.encounterId');
    expect(err.message).toContain('context.patientId');
  });

  it('reports a missing field and a wrongly typed field of the context together', () => {
    const err = rejection(request('order-sign', { userId: 'Practitioner/dr-mixed', draftOrders: [] }), ['order-sign']);

    expect(locations(err).sort()).toEqual(['context.draftOrders', 'context.patientId']);
  });

  it('rejects the official patient-view extension example, naming context.patientId', () => {
    const err = rejection(example('request-patient-view-extension.json'), ['patient-view']);

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual(['context.patientId']);
  });
});

describe('validateHookRequest: the request envelope', () => {
  it.each([
    ['an array', [{ hook: 'patient-view' }]],
    ['a string', '{"hook":"patient-view"}'],
    ['null', null],
    ['a number', 42],
    ['undefined', undefined],
  ])('rejects a body that is %s with 400', (_what, body) => {
    const err = rejection(body, ['patient-view']);

    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid-request');
  });

  it.each(['hook', 'hookInstance', 'context'])('rejects a request without %s with 400 naming it', (field) => {
    const body = request('patient-view', minimalContext('patient-view', `no-${field}`));
    delete body[field];

    const err = rejection(body, ['patient-view']);

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual([field]);
  });

  it('reports two envelope problems as two issues', () => {
    const body = {
      hook: 'patient-view',
      context: minimalContext('patient-view', 'two-envelope'),
      fhirServer: 'not a url',
    };

    const err = rejection(body, ['patient-view']);

    expect(locations(err)).toContain('hookInstance');
    expect(locations(err)).toContain('fhirServer');
  });

  it('rejects an empty hookInstance', () => {
    const err = rejection(
      request('patient-view', minimalContext('patient-view', 'empty-instance'), { hookInstance: '' }),
      ['patient-view'],
    );

    expect(locations(err)).toEqual(['hookInstance']);
  });

  it('rejects a context that is not an object', () => {
    const err = rejection(
      request('patient-view', ['Practitioner/dr-ctx-array'] as unknown as Record<string, unknown>),
      ['patient-view'],
    );

    expect(locations(err)).toEqual(['context']);
  });

  it('rejects a fhirServer that is not an http(s) URL', () => {
    const err = rejection(
      request('patient-view', minimalContext('patient-view', 'ftp'), { fhirServer: 'ftp://fhir.ftp.example/r4' }),
      ['patient-view'],
    );

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual(['fhirServer']);
  });

  it('says what a field of the wrong form must be', () => {
    const context = { ...minimalContext('patient-view', 'form'), patientId: 'pt/form' };
    const body = request('patient-view', context, { fhirServer: 'ftp://fhir.form.example/r4' });

    const err = rejection(body, ['patient-view']);

    expect(err.issues.map((i) => i.diagnostics).sort()).toEqual([
      'context.patientId must be a FHIR id',
      'fhirServer must be an http(s) URL',
    ]);
  });

  it('rejects a prefetch that is not an object', () => {
    const err = rejection(request('patient-view', minimalContext('patient-view', 'prefetch-array'), { prefetch: [] }), [
      'patient-view',
    ]);

    expect(locations(err)).toEqual(['prefetch']);
  });

  it('rejects an extension that is not an object', () => {
    const err = rejection(
      request('patient-view', minimalContext('patient-view', 'ext-string'), { extension: 'com.example.x' }),
      ['patient-view'],
    );

    expect(locations(err)).toEqual(['extension']);
  });

  // CDS Hooks 2.0 (and the cds-r-1 invariant): fhirServer is REQUIRED when fhirAuthorization is given.
  it('rejects fhirAuthorization without fhirServer with 400 naming fhirServer', () => {
    const body = request('patient-view', minimalContext('patient-view', 'auth-no-server'), {
      fhirAuthorization: fhirAuthorization('tok-auth-no-server'),
    });

    const err = rejection(body, ['patient-view']);

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual(['fhirServer']);
  });

  it('rejects fhirAuthorization without access_token with 400 naming it', () => {
    const { access_token: _dropped, ...withoutToken } = fhirAuthorization('tok-no-access');
    const body = request('patient-view', minimalContext('patient-view', 'no-access-token'), {
      fhirServer: 'https://fhir.no-access.example',
      fhirAuthorization: withoutToken,
    });

    const err = rejection(body, ['patient-view']);

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual(['fhirAuthorization.access_token']);
  });

  it('rejects fhirAuthorization with an empty access_token', () => {
    const body = request('patient-view', minimalContext('patient-view', 'empty-access-token'), {
      fhirServer: 'https://fhir.empty-access.example',
      fhirAuthorization: fhirAuthorization(''),
    });

    const err = rejection(body, ['patient-view']);

    expect(locations(err)).toEqual(['fhirAuthorization.access_token']);
  });

  it('rejects a token_type other than Bearer', () => {
    const body = request('patient-view', minimalContext('patient-view', 'mac-token'), {
      fhirServer: 'https://fhir.mac.example',
      fhirAuthorization: { ...fhirAuthorization('tok-mac'), token_type: 'MAC' },
    });

    const err = rejection(body, ['patient-view']);

    expect(locations(err)).toEqual(['fhirAuthorization.token_type']);
  });

  it('never puts the access token in the error', () => {
    const secret = 'secret-token-hooks-3e1f';
    const body = request(
      'patient-view',
      { userId: 'Practitioner/dr-secret-hooks' },
      {
        fhirServer: 'https://fhir.secret-hooks.example',
        fhirAuthorization: { ...fhirAuthorization(secret), expires_in: 'soon' },
      },
    );

    const err = rejection(body, ['patient-view']);

    expect(`${err.message}\n${JSON.stringify(err.issues)}`).not.toContain(secret);
  });

  it("rejects a hook the service does not serve with 400 naming 'hook'", () => {
    const err = rejection(request('order-sign', minimalContext('order-sign', 'unserved')), ['patient-view']);

    expect(err.status).toBe(400);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ code: 'not-supported', expression: ['hook'] });
    expect(err.message).toContain("'order-sign'");
  });

  it('rejects a hook name no catalogue knows when the service does not serve it', () => {
    const err = rejection(
      request('medication-prescribe', { userId: 'Practitioner/dr-old-hook', patientId: 'pt-old-hook' }),
      ['order-sign'],
    );

    expect(locations(err)).toEqual(['hook']);
  });
});

describe('validateHookRequest: context field types', () => {
  it('rejects order-select selections that are not an array', () => {
    const context = { ...minimalContext('order-select', 'sel-string'), selections: 'MedicationRequest/mr-sel-string' };

    const err = rejection(request('order-select', context), ['order-select']);

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual(['context.selections']);
  });

  it('rejects empty order-select selections', () => {
    const context = { ...minimalContext('order-select', 'sel-empty'), selections: [] };

    const err = rejection(request('order-select', context), ['order-select']);

    expect(locations(err)).toEqual(['context.selections']);
  });

  it('rejects an order-select selection that is not Type/id, naming its index', () => {
    const context = {
      ...minimalContext('order-select', 'sel-bare'),
      selections: ['MedicationRequest/mr-sel-bare', 'mr-sel-bare'],
    };

    const err = rejection(request('order-select', context), ['order-select']);

    expect(locations(err)).toEqual(['context.selections[1]']);
  });

  it('rejects an order-select selection that is not among draftOrders, naming its index', () => {
    const context = {
      ...minimalContext('order-select', 'sel-absent'),
      selections: ['MedicationRequest/mr-sel-absent', 'ServiceRequest/sr-not-drafted'],
    };

    const err = rejection(request('order-select', context), ['order-select']);

    expect(err.status).toBe(400);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0].expression).toEqual(['context.selections[1]']);
    expect(err.message).toContain('ServiceRequest/sr-not-drafted');
  });

  it('reports every order-select selection that is not among draftOrders', () => {
    const context = {
      ...minimalContext('order-select', 'sel-two-absent'),
      selections: ['NutritionOrder/no-x', 'MedicationRequest/mr-sel-two-absent', 'DeviceRequest/dr-y'],
    };

    const err = rejection(request('order-select', context), ['order-select']);

    expect(locations(err)).toEqual(['context.selections[0]', 'context.selections[2]']);
  });

  it('rejects an order-select selection that matches a drafted id under another resource type', () => {
    const context = { ...minimalContext('order-select', 'sel-type'), selections: ['ServiceRequest/mr-sel-type'] };

    const err = rejection(request('order-select', context), ['order-select']);

    expect(locations(err)).toEqual(['context.selections[0]']);
  });

  it('rejects order-sign draftOrders that are not a Bundle', () => {
    const context = {
      ...minimalContext('order-sign', 'not-bundle'),
      draftOrders: { resourceType: 'MedicationRequest', id: 'mr-not-bundle' },
    };

    const err = rejection(request('order-sign', context), ['order-sign']);

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual(['context.draftOrders.resourceType']);
  });

  it('rejects order-select draftOrders sent as an array of resources', () => {
    const context = {
      ...minimalContext('order-select', 'orders-array'),
      draftOrders: [{ resourceType: 'MedicationRequest', id: 'mr-orders-array' }],
    };

    const err = rejection(request('order-select', context), ['order-select']);

    expect(locations(err)).toEqual(['context.draftOrders']);
  });

  it('rejects a draftOrders entry whose resource has no resourceType', () => {
    const context = {
      ...minimalContext('order-sign', 'entry-no-type'),
      draftOrders: { resourceType: 'Bundle', entry: [{ resource: { id: 'mr-entry-no-type' } }] },
    };

    const err = rejection(request('order-sign', context), ['order-sign']);

    expect(locations(err)).toEqual(['context.draftOrders.entry[0].resource.resourceType']);
  });

  it('rejects appointment-book appointments sent as an array, as the v1.0.1 example does', () => {
    const context = {
      ...minimalContext('appointment-book', 'appt-array'),
      appointments: [{ resourceType: 'Appointment', id: 'appt-array', status: 'proposed' }],
    };

    const err = rejection(request('appointment-book', context), ['appointment-book']);

    expect(locations(err)).toEqual(['context.appointments']);
  });

  it('rejects a userId that is not Type/id', () => {
    const context = { ...minimalContext('patient-view', 'bare-user'), userId: 'dr-bare-user' };

    const err = rejection(request('patient-view', context), ['patient-view']);

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual(['context.userId']);
  });

  it('rejects a userId with the type written twice', () => {
    const context = {
      ...minimalContext('encounter-discharge', 'double-type'),
      userId: 'Practitioner/Practitioner/dr-double-type',
    };

    const err = rejection(request('encounter-discharge', context), ['encounter-discharge']);

    expect(locations(err)).toEqual(['context.userId']);
  });

  it('rejects a Patient userId for order-sign', () => {
    const context = { ...minimalContext('order-sign', 'patient-signer'), userId: 'Patient/pt-patient-signer' };

    const err = rejection(request('order-sign', context), ['order-sign']);

    expect(err.status).toBe(400);
    expect(locations(err)).toEqual(['context.userId']);
  });

  it.each(['order-select', 'encounter-start', 'encounter-discharge'])(
    'rejects a RelatedPerson userId for %s',
    (hook) => {
      const context = { ...minimalContext(hook, `rp-${hook}`), userId: `RelatedPerson/rp-${hook}` };

      const err = rejection(request(hook, context), [hook]);

      expect(locations(err)).toEqual(['context.userId']);
    },
  );

  it('rejects a userId of a type no hook allows for patient-view', () => {
    const context = { ...minimalContext('patient-view', 'org-user'), userId: 'Organization/org-user' };

    const err = rejection(request('patient-view', context), ['patient-view']);

    expect(locations(err)).toEqual(['context.userId']);
  });

  it('rejects a patientId written as a reference instead of a bare id', () => {
    const context = { ...minimalContext('patient-view', 'ref-patient'), patientId: 'Patient/pt-ref-patient' };

    const err = rejection(request('patient-view', context), ['patient-view']);

    expect(locations(err)).toEqual(['context.patientId']);
  });

  it('rejects a numeric encounterId', () => {
    const context = { ...minimalContext('encounter-start', 'numeric-enc'), encounterId: 89284 };

    const err = rejection(request('encounter-start', context), ['encounter-start']);

    expect(locations(err)).toEqual(['context.encounterId']);
  });

  it('rejects an order-dispatch performer that is not Type/id', () => {
    const context = { ...minimalContext('order-dispatch', 'bare-performer'), performer: 'lab-bare-performer' };

    const err = rejection(request('order-dispatch', context), ['order-dispatch']);

    expect(locations(err)).toEqual(['context.performer']);
  });

  it('rejects an order-dispatch dispatchedOrders entry that is not Type/id', () => {
    const context = {
      ...minimalContext('order-dispatch', 'bare-dispatched'),
      dispatchedOrders: ['ServiceRequest/sr-ok-dispatched', 'sr-bare-dispatched'],
    };

    const err = rejection(request('order-dispatch', context), ['order-dispatch']);

    expect(locations(err)).toEqual(['context.dispatchedOrders[1]']);
  });

  it('rejects order-dispatch fulfillmentTasks that are not Tasks', () => {
    const context = {
      ...minimalContext('order-dispatch', 'not-task'),
      fulfillmentTasks: [{ resourceType: 'ServiceRequest', id: 'sr-not-task' }],
    };

    const err = rejection(request('order-dispatch', context), ['order-dispatch']);

    expect(locations(err)).toEqual(['context.fulfillmentTasks[0].resourceType']);
  });
});
