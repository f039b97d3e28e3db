// One error type for the whole product. Domain code throws it; the HTTP error handler renders it
// as a FHIR OperationOutcome. Messages must be safe to show to the caller: no PHI, no internals.

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

export class CdsError extends Error {
  readonly status: number;
  /** Stable machine-readable code, e.g. 'invalid-request'. */
  readonly code: string;
  readonly issues: Issue[];
  /** Detail for the server's own log only; never sent to the caller. */
  internal?: string;

  constructor(status: number, code: string, message: string, issues?: Issue[]) {
    super(message);
    this.name = 'CdsError';
    this.status = status;
    this.code = code;
    this.issues = issues && issues.length > 0 ? issues : [{ severity: 'error', code: fhirIssueType(status), diagnostics: message }];
  }

  toOperationOutcome(): OperationOutcome {
    return { resourceType: 'OperationOutcome', issue: this.issues };
  }
}

export function fhirIssueType(status: number): string {
  switch (status) {
    case 400: return 'invalid';
    case 401: return 'login';
    case 403: return 'forbidden';
    case 404: return 'not-found';
    case 412: return 'not-found';
    case 413: return 'too-costly';
    case 415: return 'not-supported';
    case 429: return 'throttled';
    case 503: return 'transient';
    default: return 'exception';
  }
}

export function badRequest(message: string, issues?: Issue[]): CdsError {
  return new CdsError(400, 'invalid-request', message, issues);
}

export function notFound(message: string): CdsError {
  return new CdsError(404, 'not-found', message);
}

export function preconditionFailed(message: string, issues?: Issue[]): CdsError {
  return new CdsError(412, 'prefetch-unavailable', message, issues);
}
