import { describe, expect, it } from 'vitest';
import { createShadowQueue } from '../../src/engine/index.js';

const later = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('shadow queue', () => {
  it('runs queued work one call at a time, and drops and counts what does not fit', async () => {
    const queue = createShadowQueue(2, () => undefined);
    const order: number[] = [];
    let running = 0;
    let most = 0;
    const job = (n: number) => async () => {
      running++;
      most = Math.max(most, running);
      await later(5);
      order.push(n);
      running--;
    };
    expect([1, 2, 3].map((n) => queue.enqueue(job(n)))).toEqual([true, true, false]);
    await queue.drain();
    expect(order).toEqual([1, 2]);
    expect(most).toBe(1);
    expect(queue.status()).toEqual({ queued: 0, dropped: 1, evaluated: 2, limit: 2 });
  });

  it('survives work that fails and an error reporter that throws', async () => {
    const queue = createShadowQueue(10, () => {
      throw new Error('reporter failed');
    });
    queue.enqueue(() => Promise.reject(new Error('shadow failed')));
    queue.enqueue(() => {
      throw new Error('thrown before a promise');
    });
    let ran = false;
    queue.enqueue(() => {
      ran = true;
      return Promise.resolve();
    });
    await queue.drain();
    expect(ran).toBe(true);
    expect(queue.status().evaluated).toBe(3);
  });

  it('takes no more work once closed, and says how many calls were left undone', async () => {
    const queue = createShadowQueue(10, () => undefined);
    for (let i = 0; i < 3; i++) queue.enqueue(() => later(50));
    const left = await queue.close(10);
    expect(left).toBeGreaterThan(0);
    expect(queue.enqueue(() => Promise.resolve())).toBe(false);
    expect(queue.status().dropped).toBeGreaterThanOrEqual(1);
  });

  it('starts no work while live calls are being answered, and runs it once they are done', async () => {
    const queue = createShadowQueue(10, () => undefined);
    let busy = true;
    queue.holdWhile(() => busy);
    let ran = false;
    queue.enqueue(() => {
      ran = true;
      return Promise.resolve();
    });
    await later(30);
    expect(ran).toBe(false);
    busy = false;
    await queue.drain();
    expect(ran).toBe(true);
  });
});
