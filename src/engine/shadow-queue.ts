// Shadow versions are evaluated after the answer has gone out, one call at a time, through a
// bounded queue: when it is full, the new shadow work is dropped and counted; the live answer is
// never delayed by it beyond sharing the process.
export interface ShadowQueueStatus {
  /** Calls whose shadow versions wait to be evaluated (the one being evaluated included). */
  queued: number;
  /** Calls whose shadow evaluation was dropped: the queue was full, or the server was shutting down. */
  dropped: number;
  /** Calls whose shadow versions were evaluated. */
  evaluated: number;
  limit: number;
}

export interface ShadowQueue {
  /** Queues one call's shadow work; false (and counted) when the queue is full or closed. */
  enqueue(work: () => Promise<void>): boolean;
  status(): ShadowQueueStatus;
  /** Resolves when everything queued so far has run (tests). */
  drain(): Promise<void>;
  /** Takes no more work and waits up to `ms` for what is queued; resolves with the calls left undone. */
  close(ms: number): Promise<number>;
  /**
   * Starts no shadow work while `busy()` says live calls are being answered: under load shadow work
   * waits (and, once the queue is full, is dropped and counted) instead of delaying answers.
   */
  holdWhile(busy: () => boolean): void;
}

/** How often held shadow work looks again whether the live calls have finished. */
const HOLD_RETRY_MS = 2;

/** The name of an error, never its message: messages of the engine may quote patient data. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

export function createShadowQueue(limit: number, onError: (err: unknown) => void): ShadowQueue {
  const queue: Array<() => Promise<void>> = [];
  let running = false;
  let closed = false;
  let dropped = 0;
  let evaluated = 0;
  let idle: Array<() => void> = [];
  let busy: () => boolean = () => false;

  const report = (err: unknown): void => {
    try {
      onError(err);
    } catch {
      // An error reporter that fails must not take the process down with an unhandled rejection.
    }
  };

  const runNext = (): void => {
    if (queue.length > 0 && !closed && busy()) {
      setTimeout(runNext, HOLD_RETRY_MS);
      return;
    }
    const work = queue.shift();
    if (!work) {
      running = false;
      for (const resolve of idle) resolve();
      idle = [];
      return;
    }
    let job: Promise<void>;
    try {
      job = work();
    } catch (err) {
      job = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    void job.catch(report).finally(() => {
      evaluated++;
      // A pause between calls: a live call that arrives meanwhile goes first, and holds the next.
      setTimeout(runNext, HOLD_RETRY_MS);
    });
  };

  const drain = (): Promise<void> => (running ? new Promise<void>((resolve) => idle.push(resolve)) : Promise.resolve());

  return {
    enqueue(work) {
      if (closed || queue.length >= limit) {
        dropped++;
        return false;
      }
      queue.push(work);
      if (!running) {
        running = true;
        setTimeout(runNext, HOLD_RETRY_MS);
      }
      return true;
    },
    status: () => ({ queued: queue.length + (running ? 1 : 0), dropped, evaluated, limit }),
    drain,
    holdWhile(check) {
      busy = check;
    },
    async close(ms) {
      closed = true;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        timer.unref();
      });
      await Promise.race([drain(), timeout]);
      clearTimeout(timer);
      const left = queue.length + (running ? 1 : 0);
      dropped += queue.length;
      queue.length = 0;
      return left;
    },
  };
}
