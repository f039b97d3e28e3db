// One ledger with every kind of figure the quality surface shows: the hand-counted calls, cards and
// feedback of seed.ts (svc-a, svc-b), the randomised experiment and the shadow versions of experiment-seed.ts
// (svc-x, svc-s).
import type { Knowledge } from '../../src/knowledge/index.js';
import type { UptakeStore } from '../../src/uptake/index.js';
import { EXPERIMENT_ID, seedExperiment, seedShadow } from './experiment-seed.js';
import { firstBatch, seedInvocations } from './seed.js';

export async function seedQualityLedger(store: UptakeStore): Promise<void> {
  const seeded = await seedInvocations(store);
  await store.ingestFeedback('svc-a', firstBatch(seeded), { iss: 'https://ehr-1.example.org' });
  await seedExperiment(store.database);
  await seedShadow(store.database);
}

/** The basic knowledge with renal-test declaring the seeded experiment and a shadow version. */
export function withRollout(base: Knowledge): Knowledge {
  return {
    ...base,
    services: base.services.map((s) =>
      s.definition.id !== 'renal-test'
        ? s
        : {
            ...s,
            definition: {
              ...s.definition,
              rollout: {
                shadow: [{ version: '1.1.0' }],
                experiment: {
                  id: EXPERIMENT_ID,
                  unit: 'practitioner',
                  arms: [
                    { name: 'usual', version: '1.0.0', weight: 1 },
                    { name: 'new-wording', version: '1.1.0', weight: 1 },
                    { name: 'no-card', version: '1.0.0', weight: 1, show: false },
                  ],
                  start: '2027-01-04T00:00:00Z',
                  end: '2027-03-01T00:00:00Z',
                },
              },
            },
          },
    ),
  };
}
