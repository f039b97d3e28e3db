// Randomisation to experiment arms: a keyed hash (HMAC-SHA256 with the pseudonym key) of the
// experiment id and the unit's id, read as a number in [0, 1) and placed on the arms' cumulative
// weights. The same unit always gets the same arm, on every instance sharing the key, across
// restarts and reloads; different experiments assign independently.
import { createHmac } from 'node:crypto';

export interface WeightedArm {
  weight: number;
}

export type ArmAssigner = <A extends WeightedArm>(experimentId: string, unitId: string, arms: readonly A[]) => A;

export function createArmAssigner(key: string): ArmAssigner {
  return (experimentId, unitId, arms) => {
    // Arms without a positive weight get no unit (the loader refuses them; this keeps it true regardless).
    const weighted = arms.filter((arm) => Number.isFinite(arm.weight) && arm.weight > 0);
    if (weighted.length === 0) return arms[0];
    const digest = createHmac('sha256', key).update(`arm\u0000${experimentId}\u0000${unitId}`).digest();
    // 48 bits: far finer than any weight ratio, and exact in a double.
    const u = digest.readUIntBE(0, 6) / 2 ** 48;
    const total = weighted.reduce((sum, arm) => sum + arm.weight, 0);
    let cumulative = 0;
    for (const arm of weighted) {
      cumulative += arm.weight / total;
      if (u < cumulative) return arm;
    }
    return weighted[weighted.length - 1];
  };
}
