// Feedback → the ledger: each valid item joined to the card it names and stored once; a later,
// different outcome for the same card is kept as history and becomes the one that counts.
import { withoutNul } from './text.js';
import { sql, type Insertable, type Kysely } from 'kysely';
import { badRequest, invalidField, type Issue } from '../errors.js';
import type { VerifiedClient } from '../auth/index.js';
import type { Coding } from '../knowledge/index.js';
import { itemHash, itemProblems, outcomeMs, type FeedbackItem } from './feedback-item.js';
import type { FeedbackTable, UptakeDatabase } from './schema.js';
import { markStale } from './rollup-stale.js';

export interface FeedbackItemResult {
  index: number;
  card?: string;
  result: 'stored' | 'duplicate' | 'rejected';
  /** True when the override reason was not among those the card offered. */
  clientAddedReason?: boolean;
  issues: Issue[];
}

export interface IngestOptions {
  client?: VerifiedClient;
  now: Date;
}

const LOOKUP_CHUNK = 500;
const INSERT_CHUNK = 200;

/**
 * Most items one feedback request may hold. An EHR sends feedback on the cards of one call or a few; without a
 * bound, 2 MB of `[0,0,...]` made a 120 MB answer (an issue per item) and held the server for seconds.
 */
export const MAX_FEEDBACK_ITEMS = 1000;

/** Throws 400 for a body that is not `{feedback: [...]}`; otherwise one result per item, in order. */
export function parseFeedbackBody(body: unknown): unknown[] {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('the request body must be a JSON object {"feedback": [...]}');
  const feedback = (body as { feedback?: unknown }).feedback;
  if (!Array.isArray(feedback)) {
    throw badRequest('feedback must be an array of feedback items', {
      issues: [
        {
          severity: 'error',
          code: feedback === undefined ? 'required' : 'invalid',
          diagnostics: feedback === undefined ? 'feedback is required' : 'feedback must be an array',
          expression: ['feedback'],
        },
      ],
    });
  }
  if (feedback.length === 0) {
    throw invalidField('feedback', 'feedback must hold at least one item', { issueCode: 'required' });
  }
  if (feedback.length > MAX_FEEDBACK_ITEMS) {
    throw invalidField(
      'feedback',
      `feedback holds ${feedback.length} items, more than the ${MAX_FEEDBACK_ITEMS} one request may hold: send them in several requests`,
      { issueCode: 'too-costly' },
    );
  }
  return feedback;
}

export async function ingestFeedback(
  db: Kysely<UptakeDatabase>,
  serviceId: string,
  items: unknown[],
  { client, now }: IngestOptions,
): Promise<FeedbackItemResult[]> {
  const results: FeedbackItemResult[] = items.map((item, index) => {
    const issues = itemProblems(item, index);
    const card = typeof (item as FeedbackItem)?.card === 'string' ? (item as FeedbackItem).card : undefined;
    return { index, ...(card ? { card } : {}), result: issues.length > 0 ? 'rejected' : 'stored', issues };
  });
  const valid = results.filter((r) => r.result !== 'rejected');
  if (valid.length === 0) return results;

  const writes: Array<{ result: FeedbackItemResult; row: Insertable<FeedbackTable>; acceptedCount: number }> = [];
  const batchItems = new Set<string>();
  await db.transaction().execute(async (trx) => {
    const uuids = [...new Set(valid.map((r) => r.card!))];
    const cards = new Map<
      string,
      {
        service_id: string;
        suggestion_uuids: string;
        override_reasons: string;
        selection_behavior: string | null;
        client_iss: string | null;
        client_tenant: string | null;
        served_at: number;
      }
    >();
    for (let i = 0; i < uuids.length; i += LOOKUP_CHUNK) {
      const rows = await trx
        .selectFrom('uptake_card')
        .select([
          'card_uuid',
          'service_id',
          'suggestion_uuids',
          'override_reasons',
          'selection_behavior',
          'client_iss',
          'client_tenant',
          'served_at',
        ])
        .where('card_uuid', 'in', uuids.slice(i, i + LOOKUP_CHUNK))
        // Suppressed and shadow cards were never sent: no EHR can have seen them.
        .where('disposition', '=', 'shown')
        .execute();
      for (const row of rows) cards.set(row.card_uuid, row);
    }
    for (const result of valid) {
      const item = items[result.index] as FeedbackItem;
      const where = `feedback[${result.index}]`;
      const card = cards.get(item.card);
      if (!card) {
        reject(result, {
          severity: 'error',
          code: 'not-found',
          diagnostics: `${where}.card: no card with uuid '${item.card}' was served by this server`,
          expression: [`${where}.card`],
        });
        continue;
      }
      if (card.service_id !== serviceId) {
        reject(result, {
          severity: 'error',
          code: 'invalid',
          diagnostics: `${where}.card: card '${item.card}' was served by service '${card.service_id}', not '${serviceId}'`,
          expression: [`${where}.card`],
        });
        continue;
      }
      // Only the client that was shown the card may say what became of it (the same iss and tenant).
      if (card.client_iss !== (client?.iss ?? null) || card.client_tenant !== (client?.tenant ?? null)) {
        reject(result, {
          severity: 'error',
          code: 'forbidden',
          diagnostics: `${where}.card: card '${item.card}' was not served to this client: only the client it was served to may send its feedback`,
          expression: [`${where}.card`],
        });
        continue;
      }
      const accepted = new Set((item.acceptedSuggestions ?? []).map((s) => s.id));
      if (card.selection_behavior === 'at-most-one' && accepted.size > 1) {
        reject(result, {
          severity: 'error',
          code: 'invalid',
          diagnostics: `${where}.acceptedSuggestions: card '${item.card}' has selectionBehavior at-most-one, so at most one of its suggestions can be accepted (${accepted.size} were)`,
          expression: [`${where}.acceptedSuggestions`],
        });
        continue;
      }
      const offered = new Set(JSON.parse(card.suggestion_uuids) as string[]);
      (item.acceptedSuggestions ?? []).forEach((s, j) => {
        if (!offered.has(s.id)) {
          reject(result, {
            severity: 'error',
            code: 'not-found',
            diagnostics: `${where}.acceptedSuggestions[${j}].id: '${s.id}' is not a suggestion of card '${item.card}'`,
            expression: [`${where}.acceptedSuggestions[${j}].id`],
          });
        }
      });
      if (result.result === 'rejected') continue;

      const sent = item.overrideReason?.reason;
      // A reason the card offered is stored as the card offered it (a client may leave out system or display).
      const offeredMatch = sent ? offeredReason(JSON.parse(card.override_reasons) as Coding[], sent) : undefined;
      const reason = offeredMatch ?? sent;
      const clientAdded = sent ? !offeredMatch : undefined;
      if (clientAdded !== undefined) result.clientAddedReason = clientAdded;
      const hash = itemHash(item);
      // The same item twice in one batch: the second is a duplicate of the first.
      if (batchItems.has(`${item.card}|${hash}`)) {
        result.result = 'duplicate';
        continue;
      }
      batchItems.add(`${item.card}|${hash}`);
      writes.push({
        result,
        acceptedCount: new Set((item.acceptedSuggestions ?? []).map((s) => s.id)).size,
        row: withoutNul({
          card_uuid: item.card,
          service_id: serviceId,
          item_hash: hash,
          outcome: item.outcome,
          accepted_suggestions: JSON.stringify([...new Set((item.acceptedSuggestions ?? []).map((s) => s.id))]),
          override_system: reason?.system ?? null,
          override_code: reason?.code ?? null,
          override_display: reason?.display ?? null,
          override_client_added: clientAdded === undefined ? null : clientAdded ? 1 : 0,
          user_comment: item.overrideReason?.userComment ?? null,
          outcome_at: outcomeMs(item),
          received_at: now.getTime(),
          client_iss: client?.iss ?? null,
          client_tenant: client?.tenant ?? null,
        }),
      });
    }

    // Items already stored (same card, same content) are left out by the unique key: only the rows
    // returned were new.
    const inserted = new Set<string>();
    for (let i = 0; i < writes.length; i += INSERT_CHUNK) {
      const rows = await trx
        .insertInto('uptake_feedback')
        .values(writes.slice(i, i + INSERT_CHUNK).map((w) => w.row))
        .onConflict((oc) => oc.columns(['card_uuid', 'item_hash']).doNothing())
        .returning(['card_uuid', 'item_hash'])
        .execute();
      for (const r of rows) inserted.add(`${r.card_uuid}|${r.item_hash}`);
    }
    for (const { result, row, acceptedCount } of writes) {
      if (!inserted.has(`${row.card_uuid}|${row.item_hash}`)) {
        result.result = 'duplicate';
        continue;
      }
      // The outcome that counts is the latest by outcomeTimestamp; on a tie, the one received last.
      // (Every SET expression reads the row as it was before this update.)
      const newer = <T>(value: T, column: string) =>
        sql<T>`CASE WHEN outcome_at IS NULL OR outcome_at <= ${row.outcome_at} THEN ${value} ELSE ${sql.ref(column)} END`;
      await trx
        .updateTable('uptake_card')
        .set((eb) => ({
          feedback_count: eb('feedback_count', '+', 1),
          outcome: newer(row.outcome, 'outcome'),
          outcome_client_iss: newer(row.client_iss, 'outcome_client_iss'),
          outcome_client_tenant: newer(row.client_tenant, 'outcome_client_tenant'),
          accepted_suggestion_count: newer(acceptedCount, 'accepted_suggestion_count'),
          override_system: newer(row.override_system, 'override_system'),
          override_code: newer(row.override_code, 'override_code'),
          override_display: newer(row.override_display, 'override_display'),
          override_client_added: newer(row.override_client_added, 'override_client_added'),
          override_comment: newer(row.user_comment, 'override_comment'),
          outcome_at: newer(row.outcome_at, 'outcome_at'),
        }))
        .where('card_uuid', '=', row.card_uuid)
        .execute();
    }
    // The days of the cards whose outcome may have changed are rolled up again.
    await markStale(
      trx,
      writes.filter((w) => w.result.result === 'stored').map((w) => Number(cards.get(w.row.card_uuid)?.served_at)),
    );
  });
  return results;
}

function reject(result: FeedbackItemResult, issue: Issue): void {
  result.result = 'rejected';
  result.issues.push(issue);
}

/** The offered reason with the same code and system (a reason sent without a system matches on code). */
function offeredReason(offered: Coding[], reason: { system?: string; code: string }): Coding | undefined {
  return offered.find((o) => o.code === reason.code && (!reason.system || !o.system || o.system === reason.system));
}
