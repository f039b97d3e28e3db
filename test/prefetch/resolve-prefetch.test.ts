import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CdsError } from '../../src/errors.js';
import type { FhirAuthorization, HookRequest } from '../../src/hooks/types.js';
import { resolvePrefetch, type PrefetchOptions } from '../../src/prefetch/index.js';
import { bundle, entryIds, fakeFhir, fhirJson, hang, networkError, status, type FakeFhir } from './fake-fhir.js';

function auth(accessToken: string): FhirAuthorization {
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: 300,
    scope: 'user/*.read',
    subject: 'cds-service',
  };
}

function patientView(context: Record<string, unknown>, extra: Partial<HookRequest> = {}): HookRequest {
  return { hook: 'patient-view', hookInstance: randomUUID(), context, ...extra };
}

function options(fhir: FakeFhir, more: Partial<PrefetchOptions> = {}): PrefetchOptions {
  return { timeoutMs: 2_000, maxPages: 5, fetchImpl: fhir.fetchImpl, ...more };
}

async function failure(promise: Promise<unknown>): Promise<CdsError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CdsError);
    return err as CdsError;
  }
  return expect.fail('expected the promise to reject');
}

/** Everything an error carries that could reach the caller or the log. */
function everythingIn(err: CdsError): string {
  return [err.message, JSON.stringify(err.issues), err.internal ?? '', String(err.stack)].join('\n');
}

describe('resolvePrefetch: values the client sent', () => {
  it('uses every sent value as is and makes no request when all keys are present', async () => {
    const fhir = fakeFhir({});
    const patient = { resourceType: 'Patient', id: 'pt-sent-all', birthDate: '1961-04-02' };
    const labs = bundle('searchset', [{ resourceType: 'Observation', id: 'obs-sent-all' }]);
    const request = patientView(
      { userId: 'Practitioner/dr-sent-all', patientId: 'pt-sent-all' },
      {
        fhirServer: 'https://fhir.sent-all.example/r4',
        fhirAuthorization: auth('tok-sent-all'),
        prefetch: { patient, labs },
      },
    );

    const result = await resolvePrefetch(
      { patient: 'Patient/{{context.patientId}}', labs: 'Observation?patient={{context.patientId}}' },
      request,
      options(fhir),
    );

    expect(fhir.calls).toEqual([]);
    expect(result.data).toEqual({ patient, labs });
    expect(result.status).toEqual({ patient: 'sent', labs: 'sent' });
  });

  it('treats a null value as no data and never fetches it', async () => {
    const fhir = fakeFhir({});
    const request = patientView(
      { userId: 'Practitioner/dr-null', patientId: 'pt-null' },
      { fhirServer: 'https://fhir.null.example', fhirAuthorization: auth('tok-null'), prefetch: { conditions: null } },
    );

    const result = await resolvePrefetch(
      { conditions: 'Condition?patient={{context.patientId}}' },
      request,
      options(fhir),
    );

    expect(fhir.calls).toEqual([]);
    expect(result.data).toEqual({ conditions: null });
    expect(result.status).toEqual({ conditions: 'null' });
  });

  it('treats a null value as no data when the request has no fhirServer', async () => {
    const fhir = fakeFhir({});
    const request = patientView(
      { userId: 'Practitioner/dr-null-nofhir', patientId: 'pt-null-nofhir' },
      { prefetch: { allergies: null } },
    );

    const result = await resolvePrefetch(
      { allergies: 'AllergyIntolerance?patient={{context.patientId}}' },
      request,
      options(fhir),
    );

    expect(fhir.calls).toEqual([]);
    expect(result.data).toEqual({ allergies: null });
  });

  it('ignores prefetch keys the service did not declare', async () => {
    const fhir = fakeFhir({});
    const patient = { resourceType: 'Patient', id: 'pt-undeclared' };
    const request = patientView(
      { userId: 'Practitioner/dr-undeclared', patientId: 'pt-undeclared' },
      {
        prefetch: {
          patient,
          somethingElse: { resourceType: 'Observation', id: 'obs-undeclared' },
          junk: 'not even a resource',
        },
      },
    );

    const result = await resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir));

    expect(fhir.calls).toEqual([]);
    expect(result.data).toEqual({ patient });
    expect(Object.keys(result.status)).toEqual(['patient']);
  });

  it('returns empty data when the service declares no prefetch templates', async () => {
    const fhir = fakeFhir({});
    const request = patientView(
      { userId: 'Practitioner/dr-none', patientId: 'pt-none' },
      { prefetch: { patient: { resourceType: 'Patient', id: 'pt-none' } } },
    );

    const result = await resolvePrefetch(undefined, request, options(fhir));

    expect(result).toEqual({ data: {}, status: {} });
    expect(fhir.calls).toEqual([]);
  });
});

describe('resolvePrefetch: fetching what the client did not send', () => {
  it('fetches an absent key from fhirServer with the tokens filled in and the bearer token', async () => {
    const patient = { resourceType: 'Patient', id: 'pt-absent-1', gender: 'female' };
    const fhir = fakeFhir({ 'https://fhir.absent.example/r4/Patient/pt-absent-1': fhirJson(patient) });
    const request = patientView(
      { userId: 'Practitioner/dr-absent', patientId: 'pt-absent-1' },
      { fhirServer: 'https://fhir.absent.example/r4', fhirAuthorization: auth('tok-absent-7f3a'), prefetch: {} },
    );

    const result = await resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual(['https://fhir.absent.example/r4/Patient/pt-absent-1']);
    expect(fhir.calls[0].headers.authorization).toBe('Bearer tok-absent-7f3a');
    expect(fhir.calls[0].headers.accept).toContain('application/fhir+json');
    expect(result.data).toEqual({ patient });
    expect(result.status).toEqual({ patient: 'fetched' });
  });

  it('fetches only the absent key when the other keys were sent', async () => {
    const meds = bundle('searchset', [{ resourceType: 'MedicationRequest', id: 'mr-partial' }]);
    const patient = { resourceType: 'Patient', id: 'pt-partial' };
    const fhir = fakeFhir({
      'https://fhir.partial.example/MedicationRequest?patient=pt-partial&status=active': fhirJson(meds),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-partial', patientId: 'pt-partial' },
      { fhirServer: 'https://fhir.partial.example', fhirAuthorization: auth('tok-partial'), prefetch: { patient } },
    );

    const result = await resolvePrefetch(
      {
        patient: 'Patient/{{context.patientId}}',
        meds: 'MedicationRequest?patient={{context.patientId}}&status=active',
      },
      request,
      options(fhir),
    );

    expect(fhir.urls()).toEqual(['https://fhir.partial.example/MedicationRequest?patient=pt-partial&status=active']);
    expect(result.data.patient).toEqual(patient);
    expect(entryIds(result.data.meds)).toEqual(['mr-partial']);
    expect(result.status).toEqual({ patient: 'sent', meds: 'fetched' });
  });

  it('joins fhirServer and the template with exactly one slash when fhirServer ends with a slash', async () => {
    const encounter = { resourceType: 'Encounter', id: 'enc-slash' };
    const fhir = fakeFhir({ 'https://fhir.slash.example/base/Encounter/enc-slash': fhirJson(encounter) });
    const request = patientView(
      { userId: 'Practitioner/dr-slash', patientId: 'pt-slash', encounterId: 'enc-slash' },
      { fhirServer: 'https://fhir.slash.example/base/', fhirAuthorization: auth('tok-slash') },
    );

    const result = await resolvePrefetch({ encounter: 'Encounter/{{context.encounterId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual(['https://fhir.slash.example/base/Encounter/enc-slash']);
    expect(result.data.encounter).toEqual(encounter);
  });

  it('refetches a key the client sent as an OperationOutcome', async () => {
    const patient = { resourceType: 'Patient', id: 'pt-oo-refetch' };
    const fhir = fakeFhir({ 'https://fhir.oo-refetch.example/Patient/pt-oo-refetch': fhirJson(patient) });
    const outcome = {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'error', code: 'timeout', diagnostics: 'EHR prefetch timed out' }],
    };
    const request = patientView(
      { userId: 'Practitioner/dr-oo-refetch', patientId: 'pt-oo-refetch' },
      {
        fhirServer: 'https://fhir.oo-refetch.example',
        fhirAuthorization: auth('tok-oo-refetch'),
        prefetch: { patient: outcome },
      },
    );

    const result = await resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual(['https://fhir.oo-refetch.example/Patient/pt-oo-refetch']);
    expect(result.data).toEqual({ patient });
    expect(result.status).toEqual({ patient: 'fetched' });
  });

  it('refetches a key the client sent as a Bundle holding an OperationOutcome that reports an error', async () => {
    const base = 'https://fhir.bundled-oo.example';
    const labs = bundle('searchset', [{ resourceType: 'Observation', id: 'obs-bundled-oo' }]);
    const fhir = fakeFhir({ [`${base}/Observation?patient=pt-bundled-oo`]: fhirJson(labs) });
    const failed = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [
        {
          resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'timeout' }] },
          search: { mode: 'outcome' },
        },
      ],
    };
    const request = patientView(
      { userId: 'Practitioner/dr-bundled-oo', patientId: 'pt-bundled-oo' },
      { fhirServer: base, fhirAuthorization: auth('tok-bundled-oo'), prefetch: { labs: failed } },
    );

    const result = await resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual([`${base}/Observation?patient=pt-bundled-oo`]);
    expect(entryIds(result.data.labs)).toEqual(['obs-bundled-oo']);
    expect(result.status).toEqual({ labs: 'fetched' });
  });

  it('uses a sent Bundle whose OperationOutcome only warns, as it is', async () => {
    const fhir = fakeFhir({});
    const sent = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [
        { resource: { resourceType: 'Observation', id: 'obs-warned' }, search: { mode: 'match' } },
        {
          resource: {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'warning', code: 'not-supported', diagnostics: 'parameter _sort ignored' }],
          },
          search: { mode: 'outcome' },
        },
      ],
    };
    const request = patientView(
      { userId: 'Practitioner/dr-warned', patientId: 'pt-warned' },
      { prefetch: { labs: sent } },
    );

    const result = await resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir));

    expect(result.data).toEqual({ labs: sent });
    expect(result.status).toEqual({ labs: 'sent' });
    expect(fhir.calls).toEqual([]);
  });

  it('refetches a value that is not a FHIR resource', async () => {
    const practitioner = { resourceType: 'Practitioner', id: 'dr-not-resource' };
    const fhir = fakeFhir({ 'https://fhir.not-resource.example/Practitioner/dr-not-resource': fhirJson(practitioner) });
    const request = patientView(
      { userId: 'Practitioner/dr-not-resource', patientId: 'pt-not-resource' },
      // The 2.0.1 "Example prefetch data" sends "user": "123", a string.
      {
        fhirServer: 'https://fhir.not-resource.example',
        fhirAuthorization: auth('tok-not-resource'),
        prefetch: { user: '123' },
      },
    );

    const result = await resolvePrefetch({ user: '{{context.userId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual(['https://fhir.not-resource.example/Practitioner/dr-not-resource']);
    expect(result.data).toEqual({ user: practitioner });
  });

  it('fetches without an Authorization header when fhirServer comes without fhirAuthorization', async () => {
    const patient = { resourceType: 'Patient', id: 'pt-open' };
    const fhir = fakeFhir({ 'http://open-fhir.example:8080/fhir/Patient/pt-open': fhirJson(patient) });
    const request = patientView(
      { userId: 'Practitioner/dr-open', patientId: 'pt-open' },
      { fhirServer: 'http://open-fhir.example:8080/fhir' },
    );

    const result = await resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual(['http://open-fhir.example:8080/fhir/Patient/pt-open']);
    expect(fhir.calls[0].headers).not.toHaveProperty('authorization');
    expect(result.data).toEqual({ patient });
  });

  it('asks fetch to refuse redirects so the token cannot follow one', async () => {
    const fhir = fakeFhir({
      'https://fhir.redirect.example/Patient/pt-redirect': fhirJson({ resourceType: 'Patient', id: 'pt-redirect' }),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-redirect', patientId: 'pt-redirect' },
      { fhirServer: 'https://fhir.redirect.example', fhirAuthorization: auth('tok-redirect') },
    );

    await resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir));

    expect(fhir.calls.map((c) => c.redirect)).toEqual(['error']);
  });

  it('gives null for a read the FHIR server answers with 404', async () => {
    const fhir = fakeFhir({
      'https://fhir.read404.example/Encounter/enc-gone': fhirJson({ resourceType: 'OperationOutcome', issue: [] }, 404),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-read404', patientId: 'pt-read404', encounterId: 'enc-gone' },
      { fhirServer: 'https://fhir.read404.example', fhirAuthorization: auth('tok-read404') },
    );

    const result = await resolvePrefetch({ encounter: 'Encounter/{{context.encounterId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual(['https://fhir.read404.example/Encounter/enc-gone']);
    expect(result.data).toEqual({ encounter: null });
    expect(result.status).toEqual({ encounter: 'fetched' });
  });
});

describe('resolvePrefetch: 412 when the data cannot be had', () => {
  it('returns 412 naming the key when a key is absent and the request has no fhirServer', async () => {
    const fhir = fakeFhir({});
    const request = patientView({ userId: 'Practitioner/dr-nofhir', patientId: 'pt-nofhir' }, { prefetch: {} });

    const err = await failure(
      resolvePrefetch({ 'labs-nofhir': 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
    expect(err.code).toBe('prefetch-unavailable');
    expect(err.message).toContain("'labs-nofhir'");
    expect(err.message).toContain('fhirServer');
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0].expression).toEqual(['prefetch.labs-nofhir']);
    expect(fhir.calls).toEqual([]);
  });

  it('returns 412 when a key was sent as an OperationOutcome and the request has no fhirServer', async () => {
    const fhir = fakeFhir({});
    const outcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden' }] };
    const request = patientView(
      { userId: 'Practitioner/dr-oo-nofhir', patientId: 'pt-oo-nofhir' },
      { prefetch: { vitals: outcome } },
    );

    const err = await failure(
      resolvePrefetch(
        { vitals: 'Observation?patient={{context.patientId}}&category=vital-signs' },
        request,
        options(fhir),
      ),
    );

    expect(err.status).toBe(412);
    expect(err.message).toContain("'vitals'");
    expect(err.message).toContain('OperationOutcome');
    expect(err.issues[0].expression).toEqual(['prefetch.vitals']);
    expect(fhir.calls).toEqual([]);
  });

  it('returns 412 when a key was sent as a Bundle reporting an error and the request has no fhirServer', async () => {
    const fhir = fakeFhir({});
    const failed = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'fatal', code: 'exception' }] } }],
    };
    const request = patientView(
      { userId: 'Practitioner/dr-bundled-nofhir', patientId: 'pt-bundled-nofhir' },
      { prefetch: { vitals: failed } },
    );

    const err = await failure(
      resolvePrefetch({ vitals: 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
    expect(err.message).toContain("'vitals'");
    expect(err.message).toContain('OperationOutcome');
    expect(err.issues[0].expression).toEqual(['prefetch.vitals']);
    expect(fhir.calls).toEqual([]);
  });

  it('returns 412 when a page of the FHIR server holds an OperationOutcome reporting an error', async () => {
    const base = 'https://fhir.page-error.example';
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-page-error`]: fhirJson(
        bundle('searchset', [{ resourceType: 'Observation', id: 'obs-page-1' }], `${base}?page=2`),
      ),
      [`${base}?page=2`]: fhirJson(
        bundle('searchset', [{ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'too-costly' }] }]),
      ),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-page-error', patientId: 'pt-page-error' },
      { fhirServer: base, fhirAuthorization: auth('tok-page-error') },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
    expect(err.message).toContain("'labs'");
    expect(err.message).toContain('OperationOutcome reporting an error');
  });

  it('reports every key that cannot be had in one 412', async () => {
    const fhir = fakeFhir({});
    const request = patientView(
      { userId: 'Practitioner/dr-several', patientId: 'pt-several' },
      {
        prefetch: {
          patient: { resourceType: 'Patient', id: 'pt-several' },
          meds: { resourceType: 'OperationOutcome', issue: [] },
        },
      },
    );
    const templates = {
      patient: 'Patient/{{context.patientId}}',
      meds: 'MedicationRequest?patient={{context.patientId}}',
      labs: 'Observation?patient={{context.patientId}}',
      problems: 'Condition?patient={{context.patientId}}',
    };

    const err = await failure(resolvePrefetch(templates, request, options(fhir)));

    expect(err.status).toBe(412);
    expect(err.issues.map((i) => i.expression?.[0]).sort()).toEqual([
      'prefetch.labs',
      'prefetch.meds',
      'prefetch.problems',
    ]);
    for (const key of ['meds', 'labs', 'problems']) expect(err.message).toContain(`'${key}'`);
    expect(err.message).not.toContain("'patient'");
  });

  it('reports every key the FHIR server fails on in one 412', async () => {
    const fhir = fakeFhir({
      'https://fhir.two-fail.example/Observation?patient=pt-two-fail': status(500),
      'https://fhir.two-fail.example/Condition?patient=pt-two-fail': status(503),
      'https://fhir.two-fail.example/Patient/pt-two-fail': fhirJson({ resourceType: 'Patient', id: 'pt-two-fail' }),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-two-fail', patientId: 'pt-two-fail' },
      { fhirServer: 'https://fhir.two-fail.example', fhirAuthorization: auth('tok-two-fail') },
    );
    const templates = {
      patient: 'Patient/{{context.patientId}}',
      labs: 'Observation?patient={{context.patientId}}',
      problems: 'Condition?patient={{context.patientId}}',
    };

    const err = await failure(resolvePrefetch(templates, request, options(fhir)));

    expect(err.status).toBe(412);
    expect(err.issues.map((i) => i.expression?.[0]).sort()).toEqual(['prefetch.labs', 'prefetch.problems']);
  });

  it('returns 412 when the FHIR server answers 500', async () => {
    const fhir = fakeFhir({ 'https://fhir.five-hundred.example/Patient/pt-500': status(500, 'internal error') });
    const request = patientView(
      { userId: 'Practitioner/dr-500', patientId: 'pt-500' },
      { fhirServer: 'https://fhir.five-hundred.example', fhirAuthorization: auth('tok-500') },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(err.status).toBe(412);
    expect(err.message).toContain("'patient'");
    expect(err.message).toContain('500');
    expect(err.issues[0].expression).toEqual(['prefetch.patient']);
  });

  it('returns 412 when the FHIR server answers 401', async () => {
    const fhir = fakeFhir({ 'https://fhir.unauthorised.example/Patient/pt-401': status(401) });
    const request = patientView(
      { userId: 'Practitioner/dr-401', patientId: 'pt-401' },
      { fhirServer: 'https://fhir.unauthorised.example', fhirAuthorization: auth('tok-401-expired') },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(err.status).toBe(412);
    expect(err.issues[0].expression).toEqual(['prefetch.patient']);
  });

  it('returns 412 when the FHIR server cannot be reached', async () => {
    const fhir = fakeFhir({
      'https://fhir.unreachable.example/Patient/pt-unreachable': networkError(
        'getaddrinfo ENOTFOUND fhir.unreachable.example',
      ),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-unreachable', patientId: 'pt-unreachable' },
      { fhirServer: 'https://fhir.unreachable.example', fhirAuthorization: auth('tok-unreachable') },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(err.status).toBe(412);
    expect(err.message).toContain("'patient'");
    expect(err.issues[0].expression).toEqual(['prefetch.patient']);
  });

  it('returns 412 when the FHIR server does not answer within timeoutMs', async () => {
    const fhir = fakeFhir({ 'https://fhir.slow.example/Observation?patient=pt-slow': hang });
    const request = patientView(
      { userId: 'Practitioner/dr-slow', patientId: 'pt-slow' },
      { fhirServer: 'https://fhir.slow.example', fhirAuthorization: auth('tok-slow') },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir, { timeoutMs: 50 })),
    );

    expect(err.status).toBe(412);
    expect(err.issues[0].expression).toEqual(['prefetch.labs']);
    expect(fhir.urls()).toEqual(['https://fhir.slow.example/Observation?patient=pt-slow']);
  });

  it('returns 412 for a search the FHIR server answers with 404', async () => {
    const fhir = fakeFhir({ 'https://fhir.search404.example/Observation?patient=pt-search404': status(404) });
    const request = patientView(
      { userId: 'Practitioner/dr-search404', patientId: 'pt-search404' },
      { fhirServer: 'https://fhir.search404.example', fhirAuthorization: auth('tok-search404') },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
    expect(err.message).toContain('404');
    expect(err.issues[0].expression).toEqual(['prefetch.labs']);
  });

  it('returns 412 when the FHIR server answers 200 with an OperationOutcome', async () => {
    const fhir = fakeFhir({
      'https://fhir.oo200.example/Patient/pt-oo200': fhirJson({
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'processing' }],
      }),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-oo200', patientId: 'pt-oo200' },
      { fhirServer: 'https://fhir.oo200.example', fhirAuthorization: auth('tok-oo200') },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(err.status).toBe(412);
    expect(err.issues[0].expression).toEqual(['prefetch.patient']);
  });

  it('returns 412 when the FHIR server answers JSON nested deeper than the server takes', async () => {
    const deep = `{"resourceType":"Patient","id":"pt-deep","extension":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    const fhir = fakeFhir({ 'https://fhir.deep.example/Patient/pt-deep': status(200, deep) });
    const request = patientView(
      { userId: 'Practitioner/dr-deep', patientId: 'pt-deep' },
      { fhirServer: 'https://fhir.deep.example', fhirAuthorization: auth('tok-deep') },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(err.status).toBe(412);
    expect(err.message).toContain('nested deeper than 256 levels');
    expect(err.issues[0].expression).toEqual(['prefetch.patient']);
  });

  it('returns 412 when the FHIR server answers with something that is not JSON', async () => {
    const fhir = fakeFhir({ 'https://fhir.html.example/Patient/pt-html': status(200, '<html>login page</html>') });
    const request = patientView(
      { userId: 'Practitioner/dr-html', patientId: 'pt-html' },
      { fhirServer: 'https://fhir.html.example', fhirAuthorization: auth('tok-html') },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(err.status).toBe(412);
    expect(err.issues[0].expression).toEqual(['prefetch.patient']);
  });

  it('returns 412 when the FHIR server answers with JSON that is not a FHIR resource', async () => {
    const fhir = fakeFhir({
      'https://fhir.plain-json.example/Patient/pt-plain-json': fhirJson({ id: 'pt-plain-json' }),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-plain-json', patientId: 'pt-plain-json' },
      { fhirServer: 'https://fhir.plain-json.example', fhirAuthorization: auth('tok-plain-json') },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(err.status).toBe(412);
  });
});

describe('resolvePrefetch: the access token stays secret', () => {
  it('never puts the access token in the error when the FHIR server rejects the request', async () => {
    const secret = 'secret-token-4b9d2e7a';
    const fhir = fakeFhir({
      'https://fhir.secret-a.example/Patient/pt-secret-a': fhirJson(
        {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'security', diagnostics: `token ${secret} expired` }],
        },
        401,
      ),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-secret-a', patientId: 'pt-secret-a' },
      { fhirServer: 'https://fhir.secret-a.example', fhirAuthorization: auth(secret) },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(fhir.calls[0].headers.authorization).toBe(`Bearer ${secret}`);
    expect(everythingIn(err)).not.toContain(secret);
  });

  it('never puts the access token in the error when fetch fails with a message that contains it', async () => {
    const secret = 'secret-token-81c0ff3e';
    const fhir = fakeFhir({
      'https://fhir.secret-b.example/Patient/pt-secret-b': networkError(
        `request with Authorization: Bearer ${secret} failed`,
      ),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-secret-b', patientId: 'pt-secret-b' },
      { fhirServer: 'https://fhir.secret-b.example', fhirAuthorization: auth(secret) },
    );

    const err = await failure(resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir)));

    expect(everythingIn(err)).not.toContain(secret);
  });

  it('never puts the access token in the error when the FHIR server times out', async () => {
    const secret = 'secret-token-5a5a0c11';
    const fhir = fakeFhir({ 'https://fhir.secret-c.example/Patient/pt-secret-c': hang });
    const request = patientView(
      { userId: 'Practitioner/dr-secret-c', patientId: 'pt-secret-c' },
      { fhirServer: 'https://fhir.secret-c.example', fhirAuthorization: auth(secret) },
    );

    const err = await failure(
      resolvePrefetch({ patient: 'Patient/{{context.patientId}}' }, request, options(fhir, { timeoutMs: 30 })),
    );

    expect(everythingIn(err)).not.toContain(secret);
  });
});

describe('resolvePrefetch: paginated searches', () => {
  it('follows next links of a searchset and merges the entries of every page', async () => {
    const base = 'https://fhir.pages.example/r4';
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-pages`]: fhirJson(
        bundle('searchset', [{ resourceType: 'Observation', id: 'obs-p1' }], `${base}?page=2&token=abc`),
      ),
      [`${base}?page=2&token=abc`]: fhirJson(
        bundle(
          'searchset',
          [
            { resourceType: 'Observation', id: 'obs-p2a' },
            { resourceType: 'Observation', id: 'obs-p2b' },
          ],
          `${base}?page=3&token=abc`,
        ),
      ),
      [`${base}?page=3&token=abc`]: fhirJson(bundle('searchset', [{ resourceType: 'Observation', id: 'obs-p3' }])),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-pages', patientId: 'pt-pages' },
      { fhirServer: base, fhirAuthorization: auth('tok-pages') },
    );

    const result = await resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual([
      `${base}/Observation?patient=pt-pages`,
      `${base}?page=2&token=abc`,
      `${base}?page=3&token=abc`,
    ]);
    expect(fhir.calls.every((c) => c.headers.authorization === 'Bearer tok-pages')).toBe(true);
    expect(entryIds(result.data.labs)).toEqual(['obs-p1', 'obs-p2a', 'obs-p2b', 'obs-p3']);
    expect(result.data.labs).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 4 });
    expect(result.data.labs).not.toHaveProperty('link');
  });

  it('follows the next link of a paginated Bundle the client sent without refetching the first page', async () => {
    const base = 'https://fhir.sent-pages.example';
    const fhir = fakeFhir({
      [`${base}/Observation?_getpages=sent-xyz&page=2`]: fhirJson(
        bundle('searchset', [{ resourceType: 'Observation', id: 'obs-sent-p2' }]),
      ),
    });
    const firstPage = bundle(
      'searchset',
      [{ resourceType: 'Observation', id: 'obs-sent-p1' }],
      `${base}/Observation?_getpages=sent-xyz&page=2`,
    );
    const request = patientView(
      { userId: 'Practitioner/dr-sent-pages', patientId: 'pt-sent-pages' },
      { fhirServer: base, fhirAuthorization: auth('tok-sent-pages'), prefetch: { labs: firstPage } },
    );

    const result = await resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir));

    expect(fhir.urls()).toEqual([`${base}/Observation?_getpages=sent-xyz&page=2`]);
    expect(fhir.calls[0].headers.authorization).toBe('Bearer tok-sent-pages');
    expect(entryIds(result.data.labs)).toEqual(['obs-sent-p1', 'obs-sent-p2']);
    expect(result.status).toEqual({ labs: 'fetched' });
  });

  it('returns 412 naming the key when a paginated Bundle is sent without a fhirServer to fetch the rest from', async () => {
    const fhir = fakeFhir({});
    const firstPage = bundle(
      'searchset',
      [{ resourceType: 'Condition', id: 'cond-partial' }],
      'https://fhir.elsewhere.example/Condition?page=2',
    );
    const request = patientView(
      { userId: 'Practitioner/dr-partial-pages', patientId: 'pt-partial-pages' },
      { prefetch: { problems: firstPage } },
    );

    const err = await failure(
      resolvePrefetch({ problems: 'Condition?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(fhir.calls).toEqual([]);
    expect(err.status).toBe(412);
    expect(err.issues).toEqual([
      expect.objectContaining({
        code: 'incomplete',
        expression: ['prefetch.problems'],
        diagnostics: expect.stringContaining('more pages'),
      }),
    ]);
  });

  it('returns 412 naming the key when a next link has no url to follow', async () => {
    const base = 'https://fhir.nourl.example';
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-nourl`]: fhirJson({
        ...bundle('searchset', [{ resourceType: 'Observation', id: 'o1' }]),
        link: [{ relation: 'next' }],
      }),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-nourl', patientId: 'pt-nourl' },
      { fhirServer: base, fhirAuthorization: auth('t') },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
    expect(err.issues[0]).toMatchObject({ expression: ['prefetch.labs'] });
    expect(err.issues[0].diagnostics).toContain('a next link has no url to follow');
  });

  it('returns 412 naming the key when a sent paginated Bundle names a fhirServer this client may not use', async () => {
    const fhir = fakeFhir({});
    const firstPage = bundle('searchset', [{ resourceType: 'Condition', id: 'c1' }], 'https://fhir.other.example/p2');
    const request = patientView(
      { userId: 'Practitioner/dr-np', patientId: 'pt-np' },
      { fhirServer: 'https://fhir.other.example', prefetch: { problems: firstPage } },
    );

    const err = await failure(
      resolvePrefetch(
        { problems: 'Condition?patient={{context.patientId}}' },
        request,
        options(fhir, { allowedFhirServers: ['https://fhir.allowed.example'] }),
      ),
    );

    expect(fhir.calls).toEqual([]);
    expect(err.status).toBe(412);
    expect(err.issues[0].expression).toEqual(['prefetch.problems']);
  });

  it('returns 412 and sends nothing to another origin when a next link leaves the FHIR server', async () => {
    const base = 'https://fhir.origin.example';
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-origin`]: fhirJson(
        bundle(
          'searchset',
          [{ resourceType: 'Observation', id: 'obs-origin' }],
          'https://attacker.example/steal?page=2',
        ),
      ),
      'https://attacker.example/steal?page=2': fhirJson(bundle('searchset', [])),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-origin', patientId: 'pt-origin' },
      { fhirServer: base, fhirAuthorization: auth('tok-origin') },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
    expect(err.issues[0].expression).toEqual(['prefetch.labs']);
    expect(fhir.urls()).toEqual([`${base}/Observation?patient=pt-origin`]);
  });

  it('returns 412 and sends nothing to another origin when a sent Bundle has a foreign next link', async () => {
    const fhir = fakeFhir({ 'https://attacker-two.example/page2': fhirJson(bundle('searchset', [])) });
    const firstPage = bundle(
      'searchset',
      [{ resourceType: 'Observation', id: 'obs-foreign' }],
      'https://attacker-two.example/page2',
    );
    const request = patientView(
      { userId: 'Practitioner/dr-foreign', patientId: 'pt-foreign' },
      {
        fhirServer: 'https://fhir.foreign.example',
        fhirAuthorization: auth('tok-foreign'),
        prefetch: { labs: firstPage },
      },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
    expect(fhir.calls).toEqual([]);
  });

  it('returns 412 when a next link uses another scheme on the same host', async () => {
    const fhir = fakeFhir({
      'https://fhir.scheme.example/Observation?patient=pt-scheme': fhirJson(
        bundle(
          'searchset',
          [{ resourceType: 'Observation', id: 'obs-scheme' }],
          'http://fhir.scheme.example/Observation?page=2',
        ),
      ),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-scheme', patientId: 'pt-scheme' },
      { fhirServer: 'https://fhir.scheme.example', fhirAuthorization: auth('tok-scheme') },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
    expect(fhir.calls).toHaveLength(1);
  });

  it('reads a search of exactly maxPages pages', async () => {
    const base = 'https://fhir.max-ok.example';
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-max-ok`]: fhirJson(
        bundle('searchset', [{ resourceType: 'Observation', id: 'obs-max-1' }], `${base}/page/2`),
      ),
      [`${base}/page/2`]: fhirJson(
        bundle('searchset', [{ resourceType: 'Observation', id: 'obs-max-2' }], `${base}/page/3`),
      ),
      [`${base}/page/3`]: fhirJson(bundle('searchset', [{ resourceType: 'Observation', id: 'obs-max-3' }])),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-max-ok', patientId: 'pt-max-ok' },
      { fhirServer: base, fhirAuthorization: auth('tok-max-ok') },
    );

    const result = await resolvePrefetch(
      { labs: 'Observation?patient={{context.patientId}}' },
      request,
      options(fhir, { maxPages: 3 }),
    );

    expect(entryIds(result.data.labs)).toEqual(['obs-max-1', 'obs-max-2', 'obs-max-3']);
  });

  it('returns 412 when a search has more pages than maxPages', async () => {
    const base = 'https://fhir.max-over.example';
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-max-over`]: fhirJson(
        bundle('searchset', [{ resourceType: 'Observation', id: 'obs-over-1' }], `${base}/page/2`),
      ),
      [`${base}/page/2`]: fhirJson(
        bundle('searchset', [{ resourceType: 'Observation', id: 'obs-over-2' }], `${base}/page/3`),
      ),
      [`${base}/page/3`]: fhirJson(bundle('searchset', [{ resourceType: 'Observation', id: 'obs-over-3' }])),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-max-over', patientId: 'pt-max-over' },
      { fhirServer: base, fhirAuthorization: auth('tok-max-over') },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir, { maxPages: 2 })),
    );

    expect(err.status).toBe(412);
    expect(err.message).toContain('2 pages');
    expect(fhir.urls()).toEqual([`${base}/Observation?patient=pt-max-over`, `${base}/page/2`]);
  });

  it('returns 412 when a next page is not a Bundle', async () => {
    const base = 'https://fhir.bad-page.example';
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-bad-page`]: fhirJson(
        bundle('searchset', [{ resourceType: 'Observation', id: 'obs-bad-page' }], `${base}/page/2`),
      ),
      [`${base}/page/2`]: fhirJson({ resourceType: 'Patient', id: 'pt-bad-page' }),
    });
    const request = patientView(
      { userId: 'Practitioner/dr-bad-page', patientId: 'pt-bad-page' },
      { fhirServer: base, fhirAuthorization: auth('tok-bad-page') },
    );

    const err = await failure(
      resolvePrefetch({ labs: 'Observation?patient={{context.patientId}}' }, request, options(fhir)),
    );

    expect(err.status).toBe(412);
  });
});

describe('resolvePrefetch: user tokens', () => {
  it.each([
    ['userPractitionerId', 'Practitioner/dr-tok-1', 'Practitioner/{{userPractitionerId}}', 'Practitioner/dr-tok-1'],
    [
      'userPractitionerRoleId',
      'PractitionerRole/role-tok-2',
      'PractitionerRole?_id={{userPractitionerRoleId}}&_include=PractitionerRole:practitioner',
      'PractitionerRole?_id=role-tok-2&_include=PractitionerRole:practitioner',
    ],
    ['userPatientId', 'Patient/pt-tok-3', 'Patient/{{userPatientId}}', 'Patient/pt-tok-3'],
    [
      'userRelatedPersonId',
      'RelatedPerson/rp-tok-4',
      'RelatedPerson/{{userRelatedPersonId}}',
      'RelatedPerson/rp-tok-4',
    ],
    ['context.userId', 'Practitioner/dr-tok-5', '{{context.userId}}', 'Practitioner/dr-tok-5'],
  ])('fills {{%s}} from context.userId %s', async (_token, userId, template, path) => {
    const base = `https://fhir.user-${userId.split('/')[1]}.example`;
    const fhir = fakeFhir({
      [`${base}/${path}`]: fhirJson({ resourceType: userId.split('/')[0], id: userId.split('/')[1] }),
    });
    const request = patientView(
      { userId, patientId: `pt-of-${userId.split('/')[1]}` },
      { fhirServer: base, fhirAuthorization: auth(`tok-${userId}`) },
    );

    const result = await resolvePrefetch({ user: template }, request, options(fhir));

    expect(fhir.urls()).toEqual([`${base}/${path}`]);
    expect(result.status).toEqual({ user: 'fetched' });
  });

  it('gives null without a request when a token has no value', async () => {
    const fhir = fakeFhir({});
    const request = patientView(
      { userId: 'Practitioner/dr-no-role', patientId: 'pt-no-role' },
      { fhirServer: 'https://fhir.no-role.example', fhirAuthorization: auth('tok-no-role') },
    );

    const result = await resolvePrefetch(
      { role: 'PractitionerRole?_id={{userPractitionerRoleId}}' },
      request,
      options(fhir),
    );

    expect(fhir.calls).toEqual([]);
    expect(result.data).toEqual({ role: null });
    expect(result.status).toEqual({ role: 'no-token-value' });
  });

  it('gives null without a request when an optional context field used as a token is absent', async () => {
    const fhir = fakeFhir({});
    const request = patientView(
      { userId: 'Practitioner/dr-no-enc', patientId: 'pt-no-enc' },
      { fhirServer: 'https://fhir.no-enc.example', fhirAuthorization: auth('tok-no-enc') },
    );

    const result = await resolvePrefetch({ encounter: 'Encounter/{{context.encounterId}}' }, request, options(fhir));

    expect(fhir.calls).toEqual([]);
    expect(result.data).toEqual({ encounter: null });
  });

  // A template whose token has no value names no data, so there is nothing the service is unable to
  // obtain (PF-10 asks for 412 only then), with or without a fhirServer.
  it('gives null without a request when a token has no value and the request has no fhirServer', async () => {
    const fhir = fakeFhir({});
    const request = patientView(
      { userId: 'Practitioner/dr-no-role-nofhir', patientId: 'pt-no-role-nofhir' },
      { prefetch: {} },
    );

    const result = await resolvePrefetch(
      { role: 'PractitionerRole?_id={{userPractitionerRoleId}}' },
      request,
      options(fhir),
    );

    expect(fhir.calls).toEqual([]);
    expect(result.data).toEqual({ role: null });
  });
});

describe('malformed Bundles from the EHR', () => {
  it('follows a prefetch Bundle whose links or entries are malformed instead of failing with 500', async () => {
    const { resolvePrefetch } = await import('../../src/prefetch/index.js');
    const fetchImpl = (() =>
      Promise.resolve(
        new Response(JSON.stringify({ resourceType: 'Bundle', type: 'searchset', entry: 5 }), { status: 200 }),
      )) as typeof fetch;
    const request = {
      hook: 'patient-view',
      hookInstance: 'malformed-links',
      fhirServer: 'https://fhir.example.org/r4',
      context: { userId: 'Practitioner/1', patientId: 'p1' },
      prefetch: {
        conditions: {
          resourceType: 'Bundle',
          entry: 'nope',
          link: [null, { relation: 'next', url: 'https://fhir.example.org/r4/Condition?page=2' }],
        },
      },
    };
    const result = await resolvePrefetch({ conditions: 'Condition?patient={{context.patientId}}' }, request, {
      timeoutMs: 1000,
      maxPages: 5,
      fetchImpl,
    });
    expect(result.status.conditions).toBe('fetched');
    expect(result.data.conditions).toMatchObject({ resourceType: 'Bundle', total: 0 });
  });
});

describe('resolvePrefetch: bounded answers', () => {
  const base = 'https://fhir.bounds.example';
  const request = (id: string) =>
    patientView({ userId: 'Practitioner/dr-b', patientId: id }, { fhirServer: base, fhirAuthorization: auth('t') });

  /** An answer that never ends: a Bundle whose entries keep coming, as long as the reader reads. */
  function endless(sent: { bytes: number; cancelled: boolean }): Response {
    const entry = new TextEncoder().encode(JSON.stringify({ resource: { resourceType: 'Observation' } }) + ',');
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"resourceType":"Bundle","entry":['));
      },
      pull(controller) {
        sent.bytes += entry.length * 64;
        for (let i = 0; i < 64; i++) controller.enqueue(entry);
      },
      cancel() {
        sent.cancelled = true;
      },
    });
    return new Response(stream, { headers: { 'content-type': 'application/fhir+json' } });
  }

  it('stops reading an endless answer at CDS_FHIR_MAX_BYTES and returns 412 naming the key', async () => {
    const sent = { bytes: 0, cancelled: false };
    const fhir = fakeFhir({ [`${base}/Observation?patient=pt-endless`]: () => Promise.resolve(endless(sent)) });

    const err = await failure(
      resolvePrefetch(
        { labs: 'Observation?patient={{context.patientId}}' },
        request('pt-endless'),
        options(fhir, { maxBytes: 256 * 1024 }),
      ),
    );

    expect(err.status).toBe(412);
    expect(err.issues[0]).toMatchObject({ expression: ['prefetch.labs'] });
    expect(err.issues[0].diagnostics).toContain('larger than the limit of 262144 bytes');
    expect(sent.cancelled).toBe(true);
    // Read up to the limit and not much further.
    expect(sent.bytes).toBeLessThan(2 * 256 * 1024);
  });

  it('counts the limit on the decompressed answer: a small gzip that inflates past it is refused', async () => {
    const { gzipSync } = await import('node:zlib');
    const { createServer } = await import('node:http');
    // 64 MiB of spaces inside a JSON document compress to about 64 KiB.
    const bomb = gzipSync(
      Buffer.concat([
        Buffer.from('{"resourceType":"Patient","x":"'),
        Buffer.alloc(64 * 1024 * 1024, 32),
        Buffer.from('"}'),
      ]),
    );
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-encoding': 'gzip' });
      res.end(bomb);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const err = await failure(
        resolvePrefetch(
          { patient: 'Patient/{{context.patientId}}' },
          patientView({ userId: 'Practitioner/dr-b', patientId: 'pt-bomb' }, { fhirServer: url }),
          { timeoutMs: 5000, maxPages: 5, maxBytes: 1024 * 1024 },
        ),
      );
      expect(bomb.length).toBeLessThan(1024 * 1024);
      expect(err.status).toBe(412);
      expect(err.issues[0]).toMatchObject({ expression: ['prefetch.patient'] });
      expect(err.issues[0].diagnostics).toContain('larger than the limit of 1048576 bytes');
    } finally {
      server.close();
    }
  });

  it('refuses an answer whose declared length is over the limit without reading it', async () => {
    const fhir = fakeFhir({
      [`${base}/Patient/pt-long`]: () =>
        Promise.resolve(
          new Response(JSON.stringify({ resourceType: 'Patient', id: 'pt-long', text: 'x'.repeat(5000) }), {
            headers: { 'content-type': 'application/fhir+json', 'content-length': '5050' },
          }),
        ),
    });

    const err = await failure(
      resolvePrefetch(
        { patient: 'Patient/{{context.patientId}}' },
        request('pt-long'),
        options(fhir, { maxBytes: 1000 }),
      ),
    );

    expect(err.status).toBe(412);
    expect(err.issues[0].diagnostics).toContain('larger than the limit of 1000 bytes');
  });

  it('limits resources across every page and key of one call (CDS_FHIR_MAX_RESOURCES)', async () => {
    const obs = (n: number, page: string) =>
      Array.from({ length: n }, (_, i) => ({ resourceType: 'Observation', id: `${page}-${i}` }));
    const fhir = fakeFhir({
      [`${base}/Observation?patient=pt-many`]: fhirJson(bundle('searchset', obs(4, 'a'), `${base}/p2`)),
      [`${base}/p2`]: fhirJson(bundle('searchset', obs(4, 'b'))),
      [`${base}/Condition?patient=pt-many`]: fhirJson(bundle('searchset', obs(4, 'c'))),
    });
    const templates = {
      labs: 'Observation?patient={{context.patientId}}',
      problems: 'Condition?patient={{context.patientId}}',
    };

    const within = await resolvePrefetch(templates, request('pt-many'), options(fhir, { maxResources: 12 }));
    expect(entryIds(within.data.labs)).toHaveLength(8);

    const err = await failure(resolvePrefetch(templates, request('pt-many'), options(fhir, { maxResources: 10 })));
    expect(err.status).toBe(412);
    expect(err.issues.map((i) => i.diagnostics).join(' ')).toContain('more than the limit of 10 resources');
  });
});
