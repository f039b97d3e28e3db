// CDS Hooks 2.0.1 feedback items: validated one by one, so that one bad item does not cost the
// others. Lenient where the spec and real clients are (a reason Coding without system), strict on
// what the figures depend on.
import { createHash } from 'node:crypto';
import { Ajv, type ErrorObject } from 'ajv';
import type { Issue } from '../errors.js';

export interface FeedbackItem {
  card: string;
  outcome: 'accepted' | 'overridden';
  acceptedSuggestions?: Array<{ id: string }>;
  overrideReason?: { reason?: { system?: string; code: string; display?: string }; userComment?: string };
  outcomeTimestamp: string;
}

const ajv = new Ajv({ allErrors: true, strict: false });

/** Identifiers are printable text: a control character (NUL above all: PostgreSQL refuses it) is refused. */
const PRINTABLE = '^[^\\u0000-\\u001f\\u007f]+$';

const UTC_TIMESTAMP = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|z|[+-]00:00)$';

// No additionalProperties: false: the spec reserves `extension` and may add optional fields.
const itemSchema = {
  type: 'object',
  required: ['card', 'outcome', 'outcomeTimestamp'],
  properties: {
    card: { type: 'string', minLength: 1, maxLength: 256, pattern: PRINTABLE },
    outcome: { type: 'string', enum: ['accepted', 'overridden'] },
    acceptedSuggestions: {
      type: 'array',
      maxItems: 100,
      items: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 256, pattern: PRINTABLE } } },
    },
    overrideReason: {
      type: 'object',
      properties: {
        reason: {
          type: 'object',
          required: ['code'],
          properties: { system: { type: 'string', maxLength: 1024 }, code: { type: 'string', minLength: 1, maxLength: 256 }, display: { type: 'string', maxLength: 1024 } },
        },
        userComment: { type: 'string', maxLength: 4000 },
      },
    },
    outcomeTimestamp: { type: 'string', pattern: UTC_TIMESTAMP },
  },
  if: { properties: { outcome: { const: 'accepted' } }, required: ['outcome'] },
  then: { required: ['acceptedSuggestions'], properties: { acceptedSuggestions: { minItems: 1 } } },
};

const validateItem = ajv.compile(itemSchema);

/** Problems of one item (empty when valid), each naming `feedback[index].field`. */
export function itemProblems(item: unknown, index: number): Issue[] {
  const root = `feedback[${index}]`;
  if (!item || typeof item !== 'object' || Array.isArray(item)) {
    return [{ severity: 'error', code: 'invalid', diagnostics: `${root} must be an object`, expression: [root] }];
  }
  const issues: Issue[] = [];
  if (!validateItem(item)) issues.push(...issuesFrom(validateItem.errors, root));
  const it = item as Partial<FeedbackItem>;
  if (typeof it.outcomeTimestamp === 'string' && new RegExp(UTC_TIMESTAMP).test(it.outcomeTimestamp) && Number.isNaN(Date.parse(it.outcomeTimestamp))) {
    issues.push({ severity: 'error', code: 'invalid', diagnostics: `${root}.outcomeTimestamp is not a real date and time`, expression: [`${root}.outcomeTimestamp`] });
  }
  if (it.outcome === 'overridden' && Array.isArray(it.acceptedSuggestions) && it.acceptedSuggestions.length > 0) {
    issues.push({ severity: 'error', code: 'invalid', diagnostics: `${root}.acceptedSuggestions must be empty when the outcome is overridden: an overridden card has no accepted suggestion`, expression: [`${root}.acceptedSuggestions`] });
  }
  const reason = it.overrideReason;
  if (reason && typeof reason === 'object' && !Array.isArray(reason) && reason.reason === undefined && reason.userComment === undefined) {
    issues.push({ severity: 'error', code: 'required', diagnostics: `${root}.overrideReason needs a reason or a userComment`, expression: [`${root}.overrideReason`] });
  }
  return issues;
}

function issuesFrom(errors: ErrorObject[] | null | undefined, root: string): Issue[] {
  const out = new Map<string, Issue>();
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue;
    let location = toExpression(root, e.instancePath);
    let diagnostics: string;
    let code = 'invalid';
    switch (e.keyword) {
      case 'required':
        location = `${location}.${(e.params as { missingProperty: string }).missingProperty}`;
        diagnostics = location.endsWith('.acceptedSuggestions') ? `${location} is required when the outcome is accepted` : `${location} is required`;
        code = 'required';
        break;
      case 'enum':
        diagnostics = `${location} must be one of ${(e.params as { allowedValues: string[] }).allowedValues.join(', ')}`;
        break;
      case 'pattern':
        diagnostics =
          (e.params as { pattern: string }).pattern === PRINTABLE
            ? `${location} must not contain control characters`
            : `${location} must be an RFC 3339 date and time in UTC, e.g. 2026-06-01T12:00:00Z`;
        break;
      case 'minItems':
        diagnostics = `${location} must name at least one accepted suggestion when the outcome is accepted`;
        break;
      default:
        diagnostics = `${location} ${e.message ?? 'is invalid'}`;
    }
    out.set(`${location}|${diagnostics}`, { severity: 'error', code, diagnostics, expression: [location] });
  }
  return [...out.values()];
}

function toExpression(root: string, instancePath: string): string {
  let out = root;
  for (const part of instancePath.split('/').slice(1)) out += /^\d+$/.test(part) ? `[${part}]` : `.${part.replace(/~1/g, '/').replace(/~0/g, '~')}`;
  return out;
}

/** The item's identity for idempotency: equal items, however their JSON is laid out, hash the same. */
export function itemHash(item: FeedbackItem): string {
  const canonical = {
    card: item.card,
    outcome: item.outcome,
    accepted: [...new Set((item.acceptedSuggestions ?? []).map((s) => s.id))].sort(),
    reason: item.overrideReason?.reason ? [item.overrideReason.reason.system ?? '', item.overrideReason.reason.code, item.overrideReason.reason.display ?? ''] : null,
    comment: item.overrideReason?.userComment ?? null,
    at: Date.parse(item.outcomeTimestamp),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
