import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { CdsError, StartupError, type Issue } from '../src/errors.js';
import { ConfigError } from '../src/config.js';
import { TrustedClientsError } from '../src/auth/index.js';
import { PseudonymKeyError } from '../src/uptake/index.js';

const fhirIssues: Issue[] = [
  {
    severity: 'error',
    code: 'structure',
    diagnostics: 'prefetch.patient.birthDate: not a FHIR date',
    expression: ['prefetch.patient.birthDate'],
  },
  {
    severity: 'error',
    code: 'structure',
    diagnostics: 'prefetch.patient.gender: not a code',
    expression: ['prefetch.patient.gender'],
  },
];
const prefetchIssues: Issue[] = [
  {
    severity: 'error',
    code: 'not-found',
    diagnostics: "prefetch key 'patient' is missing",
    expression: ['prefetch.patient'],
  },
  {
    severity: 'error',
    code: 'not-found',
    diagnostics: "prefetch key 'lactate' is missing",
    expression: ['prefetch.lactate'],
  },
];

interface Expected {
  error: CdsError;
  status: number;
  code: string;
  message: string;
  /** The issues answered; by default one issue holding the message. */
  issues?: Issue[];
}

const oneIssue = (message: string, issueCode: string): Issue[] => [
  { severity: 'error', code: issueCode, diagnostics: message },
];

// What the HTTP layer answers for each factory: status, code and the OperationOutcome's issues.
const cases: Record<string, Expected[]> = {
  badRequest: [
    {
      error: errors.badRequest('the request body must be a JSON object'),
      status: 400,
      code: 'invalid-request',
      message: 'the request body must be a JSON object',
    },
    {
      error: errors.badRequest('hook: is required', {
        issues: [{ severity: 'error', code: 'required', diagnostics: 'is required', expression: ['hook'] }],
      }),
      status: 400,
      code: 'invalid-request',
      message: 'hook: is required',
      issues: [{ severity: 'error', code: 'required', diagnostics: 'is required', expression: ['hook'] }],
    },
  ],
  invalidField: [
    {
      error: errors.invalidField('format', "format: 'xml' must be json or csv"),
      status: 400,
      code: 'invalid-request',
      message: "format: 'xml' must be json or csv",
      issues: [
        {
          severity: 'error',
          code: 'invalid',
          diagnostics: "format: 'xml' must be json or csv",
          expression: ['format'],
        },
      ],
    },
    {
      error: errors.invalidField('feedback', 'feedback must hold at least one item', { issueCode: 'required' }),
      status: 400,
      code: 'invalid-request',
      message: 'feedback must hold at least one item',
      issues: [
        {
          severity: 'error',
          code: 'required',
          diagnostics: 'feedback must hold at least one item',
          expression: ['feedback'],
        },
      ],
    },
  ],
  invalidFhir: [
    {
      error: errors.invalidFhir('request', fhirIssues),
      status: 400,
      code: 'invalid-fhir',
      message: "the request's FHIR data is not valid FHIR R4 JSON: prefetch.patient.birthDate: not a FHIR date",
      issues: fhirIssues,
    },
    {
      error: errors.invalidFhir('fhir-server', fhirIssues),
      status: 412,
      code: 'invalid-fhir',
      message: "the FHIR server's answer is not valid FHIR R4 JSON: prefetch.patient.birthDate: not a FHIR date",
      issues: fhirIssues,
    },
  ],
  prefetchUnavailable: [
    {
      error: errors.prefetchUnavailable(prefetchIssues),
      status: 412,
      code: 'prefetch-unavailable',
      message: "prefetch key 'patient' is missing; prefetch key 'lactate' is missing",
      issues: prefetchIssues,
    },
  ],
  malformedJson: [
    {
      error: errors.malformedJson('line 2, column 7'),
      status: 400,
      code: 'malformed-json',
      message: 'the request body is not valid JSON (line 2, column 7)',
    },
    {
      error: errors.malformedJson(),
      status: 400,
      code: 'malformed-json',
      message: 'the request body is not valid JSON',
    },
  ],
  bodyTooLarge: [
    {
      error: errors.bodyTooLarge(1024),
      status: 413,
      code: 'body-too-large',
      message: 'the request body is larger than the limit of 1024 bytes',
    },
  ],
  unsupportedMediaType: [
    {
      error: errors.unsupportedMediaType('text/plain'),
      status: 415,
      code: 'unsupported-media-type',
      message:
        "Content-Type must be application/json, application/fhir+json or application/json+fhir (got 'text/plain')",
    },
    {
      error: errors.unsupportedMediaType(undefined),
      status: 415,
      code: 'unsupported-media-type',
      message: 'Content-Type must be application/json, application/fhir+json or application/json+fhir (got none)',
    },
    {
      error: errors.unsupportedMediaType(`text/${'x'.repeat(200)}`),
      status: 415,
      code: 'unsupported-media-type',
      message: `Content-Type must be application/json, application/fhir+json or application/json+fhir (got 'text/${'x'.repeat(75)}')`,
    },
  ],
  unsupportedEncoding: [
    {
      error: errors.unsupportedEncoding(),
      status: 415,
      code: 'unsupported-encoding',
      message: 'the request body encoding or charset is not supported; send UTF-8 JSON',
    },
  ],
  requestAborted: [
    {
      error: errors.requestAborted(),
      status: 400,
      code: 'request-aborted',
      message: 'the request was aborted by the client',
    },
  ],
  unreadableRequest: [
    {
      error: errors.unreadableRequest(408),
      status: 408,
      code: 'bad-request',
      message: 'the request could not be read',
    },
  ],
  bodyNotAnObject: [
    {
      error: errors.bodyNotAnObject(),
      status: 400,
      code: 'malformed-json',
      message: 'the request body must be a JSON object, not a JSON string, number, boolean or null',
    },
  ],
  jsonTooDeep: [
    {
      error: errors.jsonTooDeep(256, 'line 1, column 300'),
      status: 400,
      code: 'json-too-deep',
      message: 'the request body nests arrays and objects deeper than 256 levels (line 1, column 300)',
    },
  ],
  noSuchEndpoint: [
    {
      error: errors.noSuchEndpoint('GET', '/nowhere'),
      status: 404,
      code: 'not-found',
      message: 'no such endpoint: GET /nowhere',
    },
  ],
  wrongMethod: [
    {
      error: errors.wrongMethod('DELETE', '/uptake/report', ['GET', 'HEAD']),
      status: 405,
      code: 'method-not-allowed',
      message: 'DELETE is not allowed on /uptake/report; use GET or HEAD',
    },
  ],
  unauthorized: [
    { error: errors.unauthorized(), status: 401, code: 'unauthorized', message: 'unauthorized' },
    {
      error: errors.unauthorized('iss is not a trusted client'),
      status: 401,
      code: 'unauthorized',
      message: 'unauthorized: iss is not a trusted client',
    },
  ],
  adminKeyRequired: [
    {
      error: errors.adminKeyRequired(),
      status: 401,
      code: 'unauthorized',
      message: 'a valid admin bearer key is required',
    },
  ],
  forbidden: [
    {
      error: errors.forbidden('reports'),
      status: 403,
      code: 'forbidden',
      message: "this key does not have the 'reports' role",
    },
  ],
  rateLimited: [
    {
      error: errors.rateLimited('too many admin requests from this address', 30, 12),
      status: 429,
      code: 'rate-limited',
      message: 'too many admin requests from this address: at most 30 a minute are served; try again in 12 s',
    },
  ],
  stillStarting: [
    {
      error: errors.stillStarting('3 of 12 libraries compiled'),
      status: 503,
      code: 'starting',
      message: 'the server is starting (3 of 12 libraries compiled); try again shortly (see /ready)',
    },
  ],
  unknownService: [
    {
      error: errors.unknownService('no-such-service'),
      status: 404,
      code: 'unknown-service',
      message: "no CDS service with id 'no-such-service' (see GET /cds-services)",
    },
  ],
  serviceUnavailable: [
    {
      error: errors.serviceUnavailable('broken-service'),
      status: 503,
      code: 'service-unavailable',
      message:
        "service 'broken-service' is not available: its knowledge failed to load, or is a draft or retired (see /ready)",
    },
  ],
  unknownCard: [
    {
      error: errors.unknownCard('card-1'),
      status: 404,
      code: 'unknown-card',
      message: "no served card with uuid 'card-1'",
    },
    {
      error: errors.unknownCard('c'.repeat(100)),
      status: 404,
      code: 'unknown-card',
      message: `no served card with uuid '${'c'.repeat(64)}'`,
    },
  ],
  noExperimentData: [
    {
      error: errors.noExperimentData('trial-9', 'cds-services.json'),
      status: 404,
      code: 'unknown-experiment',
      message:
        "no experiment with id 'trial-9': cds-services.json does not declare it and the uptake ledger has no call of it",
    },
  ],
  noServiceData: [
    {
      error: errors.noServiceData('svc-9', 'in cds-services.json'),
      status: 404,
      code: 'unknown-service',
      message: "no CDS service with id 'svc-9' in cds-services.json, and the uptake ledger has no call of one",
    },
  ],
  badVersionSpec: [
    {
      error: errors.badVersionSpec('nsaid-ckd', 'release'),
      status: 400,
      code: 'bad-version',
      message: "'nsaid-ckd' is not <rule-set>@<version>, e.g. cds release nsaid-ckd@1.1.0",
    },
  ],
  unknownRuleSetVersion: [
    {
      error: errors.unknownRuleSetVersion('rules/x/9.0.0.json', ' (versions: 1.0.0)'),
      status: 400,
      code: 'unknown-version',
      message: 'no rules/x/9.0.0.json (versions: 1.0.0)',
    },
  ],
  noStatus: [
    {
      error: errors.noStatus('rules/x/1.0.0.json'),
      status: 400,
      code: 'no-status',
      message: 'rules/x/1.0.0.json has no top-level "status" (run cds validate)',
    },
  ],
  unreadableCatalogue: [
    {
      error: errors.unreadableCatalogue('Unexpected end of JSON input'),
      status: 400,
      code: 'bad-catalogue',
      message: 'cds-services.json cannot be read (Unexpected end of JSON input): fix it first (cds validate)',
    },
  ],
  alreadyInStatus: [
    {
      error: errors.alreadyInStatus('x@1.0.0', 'active'),
      status: 400,
      code: 'already-active',
      message: 'x@1.0.0 is active already',
    },
    {
      error: errors.alreadyInStatus('x@1.0.0', 'retired'),
      status: 400,
      code: 'already-retired',
      message: 'x@1.0.0 is retired already',
    },
  ],
  notADraft: [
    {
      error: errors.notADraft('x@1.0.0', 'retired', 'x'),
      status: 400,
      code: 'not-a-draft',
      message: 'x@1.0.0 is retired: only a draft is released; make a new version (cds bump x)',
    },
  ],
  versionInUse: [
    {
      error: errors.versionInUse('x@1.0.0', "service 'svc' uses it as live"),
      status: 400,
      code: 'in-use',
      message: "x@1.0.0 is not retired: service 'svc' uses it as live. Point the service at another version first",
    },
  ],
  unknownAlert: [
    {
      error: errors.unknownAlert('a1'),
      status: 404,
      code: 'unknown-alert',
      message: "no drift alarm with id 'a1' (see GET /uptake/alerts)",
    },
  ],
  unknownExperiment: [
    {
      error: errors.unknownExperiment('trial-1'),
      status: 404,
      code: 'unknown-experiment',
      message: "no experiment with id 'trial-1' in the knowledge (see GET /uptake/experiments)",
    },
  ],
  invalidPrefetchToken: [
    {
      error: errors.invalidPrefetchToken('context.draftOrders', 'not-a-primitive-context-field'),
      status: 500,
      code: 'prefetch-template',
      message: 'prefetch token {{context.draftOrders}} does not name a primitive context field',
    },
    {
      error: errors.invalidPrefetchToken('Patient.id', 'unsupported'),
      status: 500,
      code: 'prefetch-template',
      message: 'unsupported prefetch token {{Patient.id}}',
    },
  ],
  evaluationFailed: [
    {
      error: errors.evaluationFailed({ library: 'SepsisLactate', version: '1.2.0' }),
      status: 500,
      code: 'evaluation-failed',
      message: 'evaluating CQL library SepsisLactate 1.2.0 failed',
    },
  ],
  dashboardNotBuilt: [
    {
      error: errors.dashboardNotBuilt(),
      status: 503,
      code: 'dashboard-not-built',
      message: 'the dashboard is not built on this server: run npm run build',
    },
  ],
  tooMuchData: [
    {
      error: errors.tooMuchData(12001, 10000),
      status: 422,
      code: 'too-much-data',
      message:
        'the call holds 12001 FHIR resources, more than the 10000 one call may evaluate (CDS_MAX_RESOURCES_PER_CALL): send or fetch less (e.g. narrower prefetch queries)',
    },
  ],
  callDeadlineExceeded: [
    {
      error: errors.callDeadlineExceeded(10000),
      status: 503,
      code: 'call-deadline',
      message:
        'the call was not answered within its deadline of 10000 ms (CDS_CALL_DEADLINE_MS); its evaluation was stopped',
    },
  ],
  uptakeDisabled: [
    {
      error: errors.uptakeDisabled(),
      status: 503,
      code: 'uptake-disabled',
      message: 'this server keeps no uptake ledger, so it cannot take feedback',
    },
  ],
  uptakeUnavailable: [
    {
      error: errors.uptakeUnavailable('the feedback was not stored'),
      status: 503,
      code: 'uptake-unavailable',
      message: 'the feedback was not stored: the uptake database is unavailable (see /ready); try again later',
    },
  ],
  evaluationThreadStopped: [
    {
      error: errors.evaluationThreadStopped(),
      status: 500,
      code: 'evaluation-thread-stopped',
      message:
        'the thread evaluating this call stopped before it answered; it has been replaced, and the call may be sent again',
    },
  ],
  evaluationUnavailable: [
    {
      error: errors.evaluationUnavailable(),
      status: 503,
      code: 'evaluation-unavailable',
      message: 'no evaluation thread can answer this call now (they are being replaced); try again shortly',
    },
  ],
  internalError: [
    {
      error: errors.internalError(),
      status: 500,
      code: 'internal-error',
      message: 'an unexpected error occurred; it has been logged',
    },
  ],
  invalidRuleSetId: [
    {
      error: errors.invalidRuleSetId('Bad_Id'),
      status: 400,
      code: 'bad-id',
      message: "'Bad_Id' is not a rule set id: use lower-case letters, digits and dashes",
    },
  ],
  ruleSetExists: [
    {
      error: errors.ruleSetExists('sepsis-lactate'),
      status: 400,
      code: 'exists',
      message: "rules/sepsis-lactate/ exists already: use 'cds bump sepsis-lactate' for a new version",
    },
  ],
  cqlFileExists: [
    {
      error: errors.cqlFileExists('SepsisLactate', '0.1.0'),
      status: 400,
      code: 'exists',
      message: 'cql/SepsisLactate-0.1.0.cql exists already',
    },
  ],
  unknownRuleSet: [
    {
      error: errors.unknownRuleSet('no-such-set'),
      status: 400,
      code: 'unknown-rule-set',
      message: "no versions under rules/no-such-set/ (start one with 'cds new no-such-set')",
    },
  ],
  unknownLibrary: [
    {
      error: errors.unknownLibrary('SepsisLactate', '9.9.9'),
      status: 400,
      code: 'unknown-library',
      message: 'cannot find the source of SepsisLactate 9.9.9 in cql/',
    },
  ],
  invalidEvalOption: [
    {
      error: errors.invalidEvalOption('--library needs --patients <directory or Bundle file>'),
      status: 400,
      code: 'invalid-option',
      message: '--library needs --patients <directory or Bundle file>',
    },
  ],
  libraryUnavailable: [
    {
      error: errors.libraryUnavailable('CQL library Gone@1.0.0 not found in cql/'),
      status: 400,
      code: 'library-unavailable',
      message: 'CQL library Gone@1.0.0 not found in cql/',
    },
  ],
  invalidAsOf: [
    {
      error: errors.invalidAsOf('yesterday'),
      status: 400,
      code: 'invalid-option',
      message: "--as-of 'yesterday' is not an ISO 8601 time",
    },
  ],
  unreadableRequestFile: [
    {
      error: errors.unreadableRequestFile('request.json', 'ENOENT: no such file or directory'),
      status: 400,
      code: 'invalid-request-file',
      message: 'cannot read request.json: ENOENT: no such file or directory',
    },
  ],
};

describe('error factories', () => {
  it('covers every factory errors.ts exports', () => {
    const factories = Object.entries(errors)
      .filter(([name, value]) => typeof value === 'function' && !/^[A-Z]/.test(name) && name !== 'fhirIssueType')
      .map(([name]) => name);
    expect(factories.sort()).toEqual(Object.keys(cases).sort());
  });

  for (const [name, expectations] of Object.entries(cases)) {
    it(`${name} gives the status, code and OperationOutcome the HTTP layer answers with`, () => {
      for (const { error, status, code, message, issues } of expectations) {
        expect(error).toBeInstanceOf(CdsError);
        expect({ status: error.status, code: error.code, message: error.message }).toEqual({ status, code, message });
        expect(error.toOperationOutcome()).toEqual({
          resourceType: 'OperationOutcome',
          issue: issues ?? oneIssue(message, errors.fhirIssueType(status)),
        });
      }
    });
  }

  it('keeps internal detail and the cause out of the OperationOutcome', () => {
    const cause = new Error('engine failed on Patient/pt-secret-9 born 1961-04-02');
    const internal = 'engine failed on Patient/pt-secret-9';
    const made = [
      errors.evaluationFailed({ library: 'SepsisLactate', version: '1.2.0' }, { internal, cause }),
      errors.uptakeUnavailable('the report could not be made', { internal, cause }),
      errors.invalidFhir('request', fhirIssues, { internal, cause }),
      errors.badRequest('the request body must be a JSON object', { internal, cause }),
    ];
    for (const error of made) {
      expect(error.internal).toBe(internal);
      expect(error.cause).toBe(cause);
      expect(JSON.stringify(error.toOperationOutcome())).not.toContain('pt-secret-9');
    }
  });

  it('has no internal detail unless one is given', () => {
    expect(errors.unknownService('svc-1').internal).toBeUndefined();
    expect(errors.unknownService('svc-1').cause).toBeUndefined();
  });
});

describe('start-up errors', () => {
  it('are one kind, with the exit status the server and the cds command end with', () => {
    const made = [
      [new ConfigError(['CDS_PORT="x" must be a whole number']), 2, 'invalid configuration:\n  CDS_PORT="x"'],
      [new TrustedClientsError(['/etc/cds/clients.json: cannot be read']), 2, 'invalid trusted-clients file:\n  /etc'],
      [new PseudonymKeyError('pseudonym key file /data/pseudonym.key holds fewer than 32 characters'), 1, 'pseudonym'],
    ] as const;
    for (const [error, exitCode, start] of made) {
      expect(error).toBeInstanceOf(StartupError);
      expect(error.exitCode).toBe(exitCode);
      expect(error.message.startsWith(start)).toBe(true);
    }
  });
});
