// CDS Hooks 2.0.1 feedback items: validated one by one, so that one bad item does not cost the
// others. Lenient where the spec and real clients are (a reason Coding without system), strict on
// what the figures depend on.
import { createHash } from 'node:crypto';
import { calendarMs, isCalendarValue, readCalendar } from '../calendar.js';
import type { Issue } from '../errors.js';
import { createAjv, schemaIssues, type SchemaWording } from '../json-schema.js';

export interface FeedbackItem {
  card: string;
  outcome: 'accepted' | 'overridden';
  acceptedSuggestions?: Array<{ id: string }>;
  overrideReason?: { reason?: { system?: string; code: string; display?: string }; userComment?: string };
  outcomeTimestamp: string;
}

/** Identifiers are printable text: a control character (NUL above all: PostgreSQL refuses it) is refused. */
const PRINTABLE = '^[^\\u0000-\\u001f\\u007f]+$';

const UTC_TIMESTAMP = '^\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|z|[+-]00:00)$';
/** How outcomeTimestamp is read: to the second, in UTC. */
const TIMESTAMP_FORMS = { least: 'second', utcOnly: true } as const;

// No additionalProperties: false: the spec reserves `extension` and may add optional fields.
/** One feedback item (CDS Hooks 2.0.1 feedback); also in the OpenAPI document. */
export const FEEDBACK_ITEM_SCHEMA = {
  type: 'object',
  required: ['card', 'outcome', 'outcomeTimestamp'],
  properties: {
    card: { type: 'string', minLength: 1, maxLength: 256, pattern: PRINTABLE },
    outcome: { type: 'string', enum: ['accepted', 'overridden'] },
    acceptedSuggestions: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        required: ['id'],
        properties: { id: { type: 'string', minLength: 1, maxLength: 256, pattern: PRINTABLE } },
      },
    },
    overrideReason: {
      type: 'object',
      properties: {
        reason: {
          type: 'object',
          required: ['code'],
          properties: {
            system: { type: 'string', maxLength: 1024 },
            code: { type: 'string', minLength: 1, maxLength: 256 },
            display: { type: 'string', maxLength: 1024 },
          },
        },
        userComment: { type: 'string', maxLength: 4000 },
      },
    },
    outcomeTimestamp: {
      type: 'string',
      pattern: UTC_TIMESTAMP,
      description: 'an RFC 3339 date and time in UTC, e.g. 2026-06-01T12:00:00Z',
    },
  },
  if: { properties: { outcome: { const: 'accepted' } }, required: ['outcome'] },
  then: { required: ['acceptedSuggestions'], properties: { acceptedSuggestions: { minItems: 1 } } },
};

const validateItem = createAjv().compile(FEEDBACK_ITEM_SCHEMA);

const wording: SchemaWording = {
  text(e) {
    if (e.keyword === 'pattern' && (e.params as { pattern: string }).pattern === PRINTABLE) {
      return 'must not contain control characters';
    }
    // The `then` says what an accepted outcome needs.
    if (e.schemaPath === '#/then/required') return 'is required when the outcome is accepted';
    if (e.schemaPath === '#/then/properties/acceptedSuggestions/minItems') {
      return 'must name at least one accepted suggestion when the outcome is accepted';
    }
    return undefined;
  },
};

/** Problems of one item (empty when valid), each naming `feedback[index].field`. */
export function itemProblems(item: unknown, index: number): Issue[] {
  const root = `feedback[${index}]`;
  if (!item || typeof item !== 'object' || Array.isArray(item)) {
    return [{ severity: 'error', code: 'invalid', diagnostics: `${root} must be an object`, expression: [root] }];
  }
  const issues: Issue[] = [];
  if (!validateItem(item)) issues.push(...schemaIssues(validateItem.errors, root, wording));
  const it = item as Partial<FeedbackItem>;
  if (typeof it.outcomeTimestamp === 'string' && new RegExp(UTC_TIMESTAMP).test(it.outcomeTimestamp)) {
    const read = readCalendar(it.outcomeTimestamp, TIMESTAMP_FORMS);
    if (!isCalendarValue(read)) {
      issues.push({
        severity: 'error',
        code: 'invalid',
        diagnostics: `${root}.outcomeTimestamp is not a real date and time: it ${read.problem}`,
        expression: [`${root}.outcomeTimestamp`],
      });
    }
  }
  if (it.outcome === 'overridden' && Array.isArray(it.acceptedSuggestions) && it.acceptedSuggestions.length > 0) {
    issues.push({
      severity: 'error',
      code: 'invalid',
      diagnostics: `${root}.acceptedSuggestions must be empty when the outcome is overridden: an overridden card has no accepted suggestion`,
      expression: [`${root}.acceptedSuggestions`],
    });
  }
  const reason = it.overrideReason;
  if (
    reason &&
    typeof reason === 'object' &&
    !Array.isArray(reason) &&
    reason.reason === undefined &&
    reason.userComment === undefined
  ) {
    issues.push({
      severity: 'error',
      code: 'required',
      diagnostics: `${root}.overrideReason needs a reason or a userComment`,
      expression: [`${root}.overrideReason`],
    });
  }
  return issues;
}

/** When the outcome happened, in milliseconds (the item is valid). */
export function outcomeMs(item: FeedbackItem): number {
  return calendarMs(item.outcomeTimestamp, TIMESTAMP_FORMS);
}

/** The item's identity for idempotency: equal items, however their JSON is laid out, hash the same. */
export function itemHash(item: FeedbackItem): string {
  const canonical = {
    card: item.card,
    outcome: item.outcome,
    accepted: [...new Set((item.acceptedSuggestions ?? []).map((s) => s.id))].sort(),
    reason: item.overrideReason?.reason
      ? [
          item.overrideReason.reason.system ?? '',
          item.overrideReason.reason.code,
          item.overrideReason.reason.display ?? '',
        ]
      : null,
    comment: item.overrideReason?.userComment ?? null,
    at: outcomeMs(item),
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
