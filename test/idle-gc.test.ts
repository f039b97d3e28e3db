// One memory-reducing collection per idle period: after the calls stop, never while one is being answered,
// and not again until calls have come and gone.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getHeapStatistics } from 'node:v8';
import { createIdleGc } from '../src/idle-gc.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('the idle garbage collection', () => {
  it('collects once the last call has ended and the thread was idle long enough, once per idle period', () => {
    vi.useFakeTimers();
    const idle = createIdleGc(5000);
    idle.busy();
    idle.busy();
    idle.done();
    vi.advanceTimersByTime(60_000);
    expect(idle.collections()).toBe(0);
    idle.done();
    vi.advanceTimersByTime(4000);
    expect(idle.collections()).toBe(0);
    // A call that comes and goes before the time is up starts the wait again.
    idle.busy();
    idle.done();
    vi.advanceTimersByTime(4000);
    expect(idle.collections()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(idle.collections()).toBe(1);
    vi.advanceTimersByTime(60_000);
    expect(idle.collections()).toBe(1);
    idle.busy();
    idle.done();
    vi.advanceTimersByTime(5000);
    expect(idle.collections()).toBe(2);
    idle.close();
  });

  it('never collects with 0, nor once closed', () => {
    vi.useFakeTimers();
    const never = createIdleGc(0);
    never.busy();
    never.done();
    vi.advanceTimersByTime(60_000);
    expect(never.collections()).toBe(0);
    const closed = createIdleGc(10);
    closed.busy();
    closed.done();
    closed.close();
    vi.advanceTimersByTime(60_000);
    expect(closed.collections()).toBe(0);
  });

  it('gives back the heap a load grew', async () => {
    const idle = createIdleGc(1);
    idle.busy();
    const grown = grow();
    idle.done();
    while (idle.collections() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(getHeapStatistics().used_heap_size).toBeLessThan(grown.used - 20 * 2 ** 20);
    expect(getHeapStatistics().total_heap_size).toBeLessThan(grown.total);
  });
});

/** Makes about 70 MiB of garbage: the heap as it was with it. */
function grow(): { used: number; total: number } {
  const garbage = Array.from({ length: 1_000_000 }, (_, n) => ({ n, s: `entry ${n}` }));
  const { used_heap_size: used, total_heap_size: total } = getHeapStatistics();
  if (garbage.length !== 1_000_000) throw new Error('not made');
  return { used, total };
}
