// One ledger with every kind of figure the quality surface shows: the hand-counted calls, cards and
// feedback of seed.ts (svc-a, svc-b), the randomised experiment and the shadow versions of experiment-seed.ts
// (svc-x, svc-s).
import type { UptakeStore } from '../../src/uptake/index.js';
import { seedExperiment, seedShadow } from './experiment-seed.js';
import { firstBatch, seedInvocations } from './seed.js';

export async function seedQualityLedger(store: UptakeStore): Promise<void> {
  const seeded = await seedInvocations(store);
  await store.ingestFeedback('svc-a', firstBatch(seeded), { iss: 'https://ehr-1.example.org' });
  await seedExperiment(store.database);
  await seedShadow(store.database);
}
