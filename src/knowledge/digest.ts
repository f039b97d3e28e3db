// One hash of what a loaded knowledge set serves: every service's definition, each version it may
// evaluate (live, arms, shadows) by its fingerprints, the unavailable services and the value sets.
// Two loads of the same files give the same digest, whatever order they found things in (a load that had
// value sets expanded by a terminology server, and one that read the expansions it saved); the evaluation
// threads compare theirs with the HTTP thread's, so that a call is never answered from other knowledge than
// the one it is credited to.
import { createHash } from 'node:crypto';
import { canonicalJson } from './files.js';
import type { Knowledge, RuleSet } from './types.js';

export function knowledgeDigest(knowledge: Knowledge): string {
  const version = (r: RuleSet) => [r.id, r.version, r.hash, r.fingerprints.map((f) => f.hash)];
  const services = knowledge.services.map((s) => [
    s.definition,
    version(s.ruleSet),
    (s.rollout?.shadows ?? []).map(version),
    s.rollout?.experiment
      ? [s.rollout.experiment.hash, s.rollout.experiment.arms.map((a) => version(a.ruleSet))]
      : null,
  ]);
  return createHash('sha256')
    .update(
      canonicalJson({
        services,
        unavailable: knowledge.unavailable.map((u) => [u.id, u.hook]),
        valueSets: knowledge.valueSets,
        fatal: knowledge.fatal ?? null,
      }),
    )
    .digest('hex');
}
