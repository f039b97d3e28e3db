// POST /cds-services/{id}/feedback: each item validated on its own and joined to the card it
// names. The answer is an OperationOutcome with one or more issues per item, naming it by
// `feedback[i]`: information for stored (or already stored) items, errors for rejected ones.
// 200 when every item was stored (only after the write is durable); 400 when any was rejected,
// the valid ones being stored all the same.
import type { RequestHandler } from 'express';
import { unknownService, uptakeDisabled, type Issue, type OperationOutcome } from '../errors.js';
import { servicesById, type KnowledgeHolder } from '../knowledge/index.js';
import type { Logger } from '../logger.js';
import { parseFeedbackBody, type FeedbackItemResult, type UptakeStore } from '../uptake/index.js';

export interface FeedbackDeps {
  knowledge: KnowledgeHolder;
  uptake?: UptakeStore;
  logger: Logger;
}

export function feedbackHandler({ knowledge, uptake, logger }: FeedbackDeps): RequestHandler {
  return async (req, res) => {
    const serviceId = String(req.params.id);
    const current = knowledge.current();
    if (servicesById(current, serviceId).length === 0 && !current.unavailable.some((u) => u.id === serviceId)) {
      throw unknownService(serviceId);
    }
    // Named in the access line once it is a service's id (an unknown one is whatever the caller put there).
    res.locals.feedbackServiceId = serviceId;
    if (!uptake) throw uptakeDisabled();
    const items = parseFeedbackBody(req.body);
    const { client } = res.locals;
    const results = await uptake.ingestFeedback(
      serviceId,
      items,
      client ? { iss: client.iss, tenant: client.tenant } : undefined,
    );
    const count = (kind: FeedbackItemResult['result']) => results.filter((r) => r.result === kind).length;
    (res.locals.logger ?? logger).info('feedback', {
      serviceId,
      items: results.length,
      stored: count('stored'),
      duplicates: count('duplicate'),
      rejected: count('rejected'),
    });
    res.status(count('rejected') > 0 ? 400 : 200).json(feedbackOutcome(results));
  };
}

export function feedbackOutcome(results: FeedbackItemResult[]): OperationOutcome {
  const issue: Issue[] = [];
  for (const r of results) {
    const where = `feedback[${r.index}]`;
    const card = r.card ? ` (card ${r.card})` : '';
    if (r.result === 'rejected') {
      issue.push(...r.issues);
      continue;
    }
    const reason = r.clientAddedReason
      ? '; its override reason is not one the card offered: kept and marked client-added'
      : '';
    issue.push({
      severity: 'information',
      code: 'informational',
      diagnostics:
        r.result === 'stored' ? `${where}: stored${card}${reason}` : `${where}: already stored${card}; nothing changed`,
      expression: [where],
    });
  }
  return { resourceType: 'OperationOutcome', issue };
}
