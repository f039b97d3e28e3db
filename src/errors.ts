// The product's error vocabulary. Domain code throws a CdsError made by one of the factories below;
// the HTTP error handler renders it as a FHIR OperationOutcome and the `cds` command prints its
// issues. Messages must be safe to show to the caller: no PHI, no internals (those go in `internal`).
// A StartupError is the other kind: a reason the server or the command cannot start at all.

export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';

export interface Issue {
  severity: IssueSeverity;
  /** FHIR issue-type code, e.g. 'invalid', 'required', 'not-found', 'exception'. */
  code: string;
  diagnostics: string;
  /** Where the problem is, as FHIRPath-like locations, e.g. ['context.patientId']. */
  expression?: string[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: Issue[];
}

export interface CdsErrorOptions {
  /** What the caller is told, issue by issue; by default one issue holding the message. */
  issues?: Issue[];
  /**
   * Detail for debugging and the command line; never sent to the caller, and never written to a log line by
   * the HTTP server (it may quote the data it failed on: the log gets the cause's type and stack frames).
   */
  internal?: string;
  /** Fields a log line may carry: built from the knowledge and the code only, never from the data. */
  logged?: Record<string, unknown>;
  /** The error this one stands for; never sent to the caller. */
  cause?: unknown;
}

export class CdsError extends Error {
  readonly status: number;
  /** Stable machine-readable code, e.g. 'invalid-request'. */
  readonly code: string;
  readonly issues: Issue[];
  /** Detail for debugging and the command line; never sent to the caller nor logged by the HTTP server. */
  readonly internal?: string;
  /** What the log line of this error may add (see CdsErrorOptions.logged). */
  readonly logged?: Record<string, unknown>;

  constructor(
    status: number,
    code: string,
    message: string,
    { issues, internal, logged, cause }: CdsErrorOptions = {},
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'CdsError';
    this.status = status;
    this.code = code;
    this.issues =
      issues && issues.length > 0 ? issues : [{ severity: 'error', code: fhirIssueType(status), diagnostics: message }];
    this.internal = internal;
    this.logged = logged;
  }

  toOperationOutcome(): OperationOutcome {
    return { resourceType: 'OperationOutcome', issue: this.issues };
  }
}

export function fhirIssueType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid';
    case 401:
      return 'login';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 405:
      return 'not-supported';
    case 412:
      return 'not-found';
    case 413:
    case 422:
      return 'too-costly';
    case 415:
      return 'not-supported';
    case 429:
      return 'throttled';
    case 503:
      return 'transient';
    default:
      return 'exception';
  }
}

// --- The request is wrong --------------------------------------------------------------------

/** 400: the request (body, query) breaks a rule; `issues` names each place. */
export function badRequest(message: string, options?: CdsErrorOptions): CdsError {
  return new CdsError(400, 'invalid-request', message, options);
}

/** 400: one field is wrong; the message is also the field's issue. */
export function invalidField(
  field: string,
  message: string,
  { issueCode = 'invalid' }: { issueCode?: string } = {},
): CdsError {
  return badRequest(message, {
    issues: [{ severity: 'error', code: issueCode, diagnostics: message, expression: [field] }],
  });
}

/**
 * FHIR data that is not FHIR R4 JSON: 400 when the caller sent it, 412 when the FHIR server
 * answered it. The first issue is in the message.
 */
export function invalidFhir(
  from: 'request' | 'fhir-server',
  issues: Issue[],
  options?: Omit<CdsErrorOptions, 'issues'>,
): CdsError {
  const first = issues[0].diagnostics;
  const all = { ...options, issues };
  return from === 'request'
    ? new CdsError(400, 'invalid-fhir', `the request's FHIR data is not valid FHIR R4 JSON: ${first}`, all)
    : new CdsError(412, 'invalid-fhir', `the FHIR server's answer is not valid FHIR R4 JSON: ${first}`, all);
}

/** 412: prefetch data neither sent nor fetchable; one issue per prefetch key. */
export function prefetchUnavailable(issues: Issue[]): CdsError {
  return new CdsError(412, 'prefetch-unavailable', issues.map((i) => i.diagnostics).join('; '), { issues });
}

/** 422: the call holds more FHIR resources than one call may evaluate (CDS_MAX_RESOURCES_PER_CALL). */
export function tooMuchData(count: number, limit: number): CdsError {
  return new CdsError(
    422,
    'too-much-data',
    `the call holds ${count} FHIR resources, more than the ${limit} one call may evaluate (CDS_MAX_RESOURCES_PER_CALL): send or fetch less (e.g. narrower prefetch queries)`,
  );
}

/** 503: the call was not answered within its deadline (CDS_CALL_DEADLINE_MS); its evaluation has been stopped. */
export function callDeadlineExceeded(ms: number): CdsError {
  return new CdsError(
    503,
    'call-deadline',
    `the call was not answered within its deadline of ${ms} ms (CDS_CALL_DEADLINE_MS); its evaluation was stopped`,
  );
}

/** 400: the body is not JSON; `position` is where the parser stopped (e.g. 'line 1, column 8'). */
export function malformedJson(position?: string): CdsError {
  return new CdsError(400, 'malformed-json', `the request body is not valid JSON${position ? ` (${position})` : ''}`);
}

/** 400: the body is JSON, but a string, number, boolean or null where an object belongs. */
export function bodyNotAnObject(): CdsError {
  return new CdsError(
    400,
    'malformed-json',
    'the request body must be a JSON object, not a JSON string, number, boolean or null',
  );
}

/** 400: the body nests arrays and objects deeper than `max` levels; `position` is where (e.g. 'line 1, column 300'). */
export function jsonTooDeep(max: number, position?: string): CdsError {
  return new CdsError(
    400,
    'json-too-deep',
    `the request body nests arrays and objects deeper than ${max} levels${position ? ` (${position})` : ''}`,
  );
}

export function bodyTooLarge(limitBytes: number | undefined): CdsError {
  return new CdsError(413, 'body-too-large', `the request body is larger than the limit of ${limitBytes} bytes`);
}

/** 415: a body that is not JSON by its Content-Type. */
export function unsupportedMediaType(contentType: string | undefined): CdsError {
  const got = contentType ? `'${contentType.slice(0, 80)}'` : 'none';
  return new CdsError(
    415,
    'unsupported-media-type',
    `Content-Type must be application/json, application/fhir+json or application/json+fhir (got ${got})`,
  );
}

export function unsupportedEncoding(): CdsError {
  return new CdsError(
    415,
    'unsupported-encoding',
    'the request body encoding or charset is not supported; send UTF-8 JSON',
  );
}

export function requestAborted(): CdsError {
  return new CdsError(400, 'request-aborted', 'the request was aborted by the client');
}

/** Any other 4xx the body parser reports, with its status. */
export function unreadableRequest(status: number): CdsError {
  return new CdsError(status, 'bad-request', 'the request could not be read');
}

export function noSuchEndpoint(method: string, path: string): CdsError {
  return new CdsError(404, 'not-found', `no such endpoint: ${method} ${path}`);
}

/** 405 for `method` on `path`; `allowed` are the methods it takes. */
export function wrongMethod(method: string, path: string, allowed: string[]): CdsError {
  return new CdsError(405, 'method-not-allowed', `${method} is not allowed on ${path}; use ${allowed.join(' or ')}`);
}

// --- Who is asking ---------------------------------------------------------------------------

/** 401 to an EHR: the same answer for every reason (the reason goes to the log), unless `debugReason` is given. */
export function unauthorized(debugReason?: string): CdsError {
  return new CdsError(401, 'unauthorized', debugReason ? `unauthorized: ${debugReason}` : 'unauthorized');
}

/** 401 on the admin and reporting surface. */
export function adminKeyRequired(): CdsError {
  return new CdsError(401, 'unauthorized', 'a valid admin bearer key is required');
}

export function forbidden(role: string): CdsError {
  return new CdsError(403, 'forbidden', `this key does not have the '${role}' role`);
}

/** 429: `what` says whose requests (e.g. 'too many admin requests from this address'). */
export function rateLimited(what: string, perMinute: number, retryAfterSeconds: number): CdsError {
  return new CdsError(
    429,
    'rate-limited',
    `${what}: at most ${perMinute} a minute are served; try again in ${retryAfterSeconds} s`,
  );
}

// --- What the server serves ------------------------------------------------------------------

export function unknownService(id: string): CdsError {
  return new CdsError(404, 'unknown-service', `no CDS service with id '${id}' (see GET /cds-services)`);
}

/** 503: the service is known but its knowledge failed to load. */
export function serviceUnavailable(id: string): CdsError {
  return new CdsError(
    503,
    'service-unavailable',
    `service '${id}' is not available: its knowledge failed to load, or is a draft or retired (see /ready)`,
  );
}

/** 503 while the server is starting: the port is open, the knowledge is still being compiled. */
export function stillStarting(progress: string): CdsError {
  return new CdsError(503, 'starting', `the server is starting (${progress}); try again shortly (see /ready)`);
}

export function unknownCard(uuid: string): CdsError {
  return new CdsError(404, 'unknown-card', `no served card with uuid '${uuid.slice(0, 64)}'`);
}

/** 404: no drift alarm has this id. */
export function unknownAlert(id: string): CdsError {
  return new CdsError(404, 'unknown-alert', `no drift alarm with id '${id.slice(0, 64)}' (see GET /uptake/alerts)`);
}

/** 404: neither the knowledge (`where` it was read) nor the ledger knows this experiment. */
export function noExperimentData(id: string, where: string, hint = ''): CdsError {
  return new CdsError(
    404,
    'unknown-experiment',
    `no experiment with id '${id.slice(0, 128)}': ${where} does not declare it and the uptake ledger has no call of it${hint}`,
  );
}

/** 404: neither the knowledge (`where`: "is served", "in <file>") nor the ledger knows this service. */
export function noServiceData(id: string, where: string, hint = ''): CdsError {
  return new CdsError(
    404,
    'unknown-service',
    `no CDS service with id '${id.slice(0, 128)}' ${where}, and the uptake ledger has no call of one${hint}`,
  );
}

/** 404: no service of the knowledge serving now declares this experiment. */
export function unknownExperiment(id: string): CdsError {
  return new CdsError(
    404,
    'unknown-experiment',
    `no experiment with id '${id.slice(0, 128)}' in the knowledge (see GET /uptake/experiments)`,
  );
}

/** 500: a service's prefetch template holds a token the server cannot fill. */
export function invalidPrefetchToken(
  token: string,
  problem: 'not-a-primitive-context-field' | 'unsupported',
): CdsError {
  return new CdsError(
    500,
    'prefetch-template',
    problem === 'unsupported'
      ? `unsupported prefetch token {{${token}}}`
      : `prefetch token {{${token}}} does not name a primitive context field`,
  );
}

/** 500: the CQL engine failed; its own message (which may quote patient data) belongs in `internal`. */
export function evaluationFailed(
  cql: { library: string; version: string } | undefined,
  options?: CdsErrorOptions,
): CdsError {
  return new CdsError(
    500,
    'evaluation-failed',
    `evaluating CQL library ${cql?.library} ${cql?.version} failed`,
    options,
  );
}

/** 503 for GET /dashboard when the page was not built into dist/dashboard (npm run build). */
export function dashboardNotBuilt(): CdsError {
  return new CdsError(503, 'dashboard-not-built', 'the dashboard is not built on this server: run npm run build');
}

export function uptakeDisabled(): CdsError {
  return new CdsError(503, 'uptake-disabled', 'this server keeps no uptake ledger, so it cannot take feedback');
}

/**
 * 503: `what` says what did not happen (e.g. 'the feedback was not stored'); the database's own
 * reason goes in `internal`.
 */
export function uptakeUnavailable(what: string, options?: CdsErrorOptions): CdsError {
  return new CdsError(
    503,
    'uptake-unavailable',
    `${what}: the uptake database is unavailable (see /ready); try again later`,
    options,
  );
}

/** 500: the worker thread evaluating the call stopped (crashed, ran out of memory) before it answered. */
export function evaluationThreadStopped(): CdsError {
  return new CdsError(
    500,
    'evaluation-thread-stopped',
    'the thread evaluating this call stopped before it answered; it has been replaced, and the call may be sent again',
  );
}

/** 503: no evaluation thread holds the knowledge this call was taken on (they stopped and were replaced meanwhile). */
export function evaluationUnavailable(): CdsError {
  return new CdsError(
    503,
    'evaluation-unavailable',
    'no evaluation thread can answer this call now (they are being replaced); try again shortly',
  );
}

/** 500 for anything that is not a CdsError; the error itself is logged, never sent. */
export function internalError(): CdsError {
  return new CdsError(500, 'internal-error', 'an unexpected error occurred; it has been logged');
}

// --- The `cds` command's knowledge authoring -------------------------------------------------

export function invalidRuleSetId(id: string): CdsError {
  return new CdsError(400, 'bad-id', `'${id}' is not a rule set id: use lower-case letters, digits and dashes`);
}

export function ruleSetExists(id: string): CdsError {
  return new CdsError(400, 'exists', `rules/${id}/ exists already: use 'cds bump ${id}' for a new version`);
}

export function cqlFileExists(library: string, version: string): CdsError {
  return new CdsError(400, 'exists', `cql/${library}-${version}.cql exists already`);
}

export function unknownRuleSet(id: string): CdsError {
  return new CdsError(400, 'unknown-rule-set', `no versions under rules/${id}/ (start one with 'cds new ${id}')`);
}

export function unknownLibrary(library: string, version: string): CdsError {
  return new CdsError(400, 'unknown-library', `cannot find the source of ${library} ${version} in cql/`);
}

export function invalidAsOf(value: string | undefined, problem = 'is not an ISO 8601 time'): CdsError {
  return new CdsError(400, 'invalid-option', `--as-of '${value}' ${problem}`);
}

/** 400: the request file of `cds eval` cannot be read or is not JSON; `reason` says which. */
export function unreadableRequestFile(file: string, reason: string): CdsError {
  return new CdsError(400, 'invalid-request-file', `cannot read ${file}: ${reason}`);
}

/** 400: a command-line option of `cds eval` is wrong or missing; `message` says which and why. */
export function invalidEvalOption(message: string): CdsError {
  return new CdsError(400, 'invalid-option', message);
}

/** 400: the library `cds eval --library` names cannot be evaluated (not found, does not compile). */
export function libraryUnavailable(reason: string): CdsError {
  return new CdsError(400, 'library-unavailable', reason);
}

// --- Start-up --------------------------------------------------------------------------------

/**
 * Why the server or the `cds` command cannot start: bad settings, a bad trusted-clients or
 * pseudonym key file, a database it cannot use. The message is for the operator and is printed
 * as it is (no stack); the process then exits with `exitCode`.
 */
export class StartupError extends Error {
  /** 2: settings or files the operator must fix; 1: anything else that stops the start. */
  readonly exitCode: number;

  constructor(message: string, { exitCode = 2, cause }: { exitCode?: number; cause?: unknown } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'StartupError';
    this.exitCode = exitCode;
  }
}

// cds release / cds retire: what stops a lifecycle change (exit status 2, as a usage mistake).

export function badVersionSpec(spec: string, command: string): CdsError {
  return new CdsError(400, 'bad-version', `'${spec}' is not <rule-set>@<version>, e.g. cds ${command} nsaid-ckd@1.1.0`);
}

export function unknownRuleSetVersion(file: string, known: string): CdsError {
  return new CdsError(400, 'unknown-version', `no ${file}${known}`);
}

export function noStatus(file: string): CdsError {
  return new CdsError(400, 'no-status', `${file} has no top-level "status" (run cds validate)`);
}

export function unreadableCatalogue(reason: string): CdsError {
  return new CdsError(
    400,
    'bad-catalogue',
    `cds-services.json cannot be read (${reason}): fix it first (cds validate)`,
  );
}

export function alreadyInStatus(name: string, status: 'active' | 'retired'): CdsError {
  return new CdsError(400, `already-${status}`, `${name} is ${status} already`);
}

export function notADraft(name: string, status: string, ruleSet: string): CdsError {
  return new CdsError(
    400,
    'not-a-draft',
    `${name} is ${status}: only a draft is released; make a new version (cds bump ${ruleSet})`,
  );
}

export function versionInUse(name: string, uses: string): CdsError {
  return new CdsError(400, 'in-use', `${name} is not retired: ${uses}. Point the service at another version first`);
}
