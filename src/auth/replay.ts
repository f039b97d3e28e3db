// Remembers each token's jti until the token expires, so a captured token cannot be sent twice.
// The in-memory store protects one instance; several instances behind a load balancer need a
// shared implementation (a database table) of the same interface.

export interface JtiStore {
  /**
   * Records that (issuer, jti) was used; true the first time, false if it was already recorded
   * and has not expired. Must be atomic: two concurrent calls with the same pair cannot both get true.
   */
  firstUse(issuer: string, jti: string, expiresAt: Date): Promise<boolean>;
  close?(): Promise<void>;
}

const SWEEP_EVERY = 1000;

export function createMemoryJtiStore(clock: () => Date = () => new Date()): JtiStore {
  const seen = new Map<string, number>();
  let calls = 0;
  const sweep = (now: number): void => {
    for (const [key, expires] of seen) if (expires <= now) seen.delete(key);
  };
  return {
    firstUse(issuer, jti, expiresAt) {
      const now = clock().getTime();
      if (++calls % SWEEP_EVERY === 0) sweep(now);
      const key = `${issuer}\n${jti}`;
      const expires = seen.get(key);
      if (expires !== undefined && expires > now) return Promise.resolve(false);
      seen.set(key, expiresAt.getTime());
      return Promise.resolve(true);
    },
    close() {
      seen.clear();
      return Promise.resolve();
    },
  };
}
