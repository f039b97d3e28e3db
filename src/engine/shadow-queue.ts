// Shadow versions are evaluated after the answer has gone out, one call at a time, through a
// bounded queue: when it is full, the new shadow work is dropped and counted; the live answer is
// never delayed by it beyond sharing the process.
export interface ShadowQueueStatus {
  /** Calls whose shadow versions wait to be evaluated. */
  queued: number;
  /** Calls whose shadow evaluation was dropped because the queue was full. */
  dropped: number;
  /** Calls whose shadow versions were evaluated. */
  evaluated: number;
  limit: number;
}

export interface ShadowQueue {
  /** Queues one call's shadow work; false (and counted) when the queue is full. */
  enqueue(work: () => Promise<void>): boolean;
  status(): ShadowQueueStatus;
  /** Resolves when everything queued so far has run (tests, shutdown). */
  drain(): Promise<void>;
}

export function createShadowQueue(limit: number, onError: (err: unknown) => void): ShadowQueue {
  const queue: Array<() => Promise<void>> = [];
  let running = false;
  let dropped = 0;
  let evaluated = 0;
  let idle: Array<() => void> = [];

  const runNext = (): void => {
    const work = queue.shift();
    if (!work) {
      running = false;
      for (const resolve of idle) resolve();
      idle = [];
      return;
    }
    work()
      .catch(onError)
      .finally(() => {
        evaluated++;
        // Yield to the event loop between calls: answers waiting to be sent go first.
        setImmediate(runNext);
      });
  };

  return {
    enqueue(work) {
      if (queue.length >= limit) {
        dropped++;
        return false;
      }
      queue.push(work);
      if (!running) {
        running = true;
        setImmediate(runNext);
      }
      return true;
    },
    status: () => ({ queued: queue.length, dropped, evaluated, limit }),
    drain: () => (running ? new Promise<void>((resolve) => idle.push(resolve)) : Promise.resolve()),
  };
}
