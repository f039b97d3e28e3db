// Garbage collected once the server is idle. After a load V8 keeps the old generation it grew to for a long
// time; one full collection when the calls have stopped for a few seconds frees it. How much of that goes
// back to the system is V8's and malloc's affair: on Node 20 gc() frees the heap but keeps most of its pages
// committed (its options for a memory-reducing collection are not read there), so the resident memory falls
// less than the heap. Once per idle period: never while a call is being answered, and not
// again until calls have come and gone once more. Each thread that answers calls (the HTTP thread, every
// evaluation thread) has its own heap and its own IdleGc.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleGc {
  /** Work (a call) started: nothing is collected until every one has ended and the thread was idle long enough. */
  busy(): void;
  /** It ended. */
  done(): void;
  /** Collections made so far. */
  collections(): number;
  close(): void;
}

type Gc = () => void;

let gc: Gc | undefined;
/** V8's gc(), as --expose-gc gives it, in a context of its own (the thread's globals stay as they are). */
function fullGc(): Gc {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  }
  return gc;
}

/** Collects `idleMs` after the last work ended (0: never). */
export function createIdleGc(idleMs: number): IdleGc {
  let inFlight = 0;
  // Whether anything ran since the last collection: an idle thread is collected once, not every idleMs.
  let worked = false;
  let collections = 0;
  let timer: NodeJS.Timeout | undefined;
  const collect = (): void => {
    timer = undefined;
    if (inFlight > 0 || !worked) return;
    worked = false;
    collections++;
    // A full collection (Node 20's V8 makes a minor one of gc({ type: 'major', ... })).
    fullGc()();
  };
  return {
    busy() {
      inFlight++;
      worked = true;
      clearTimeout(timer);
      timer = undefined;
    },
    done() {
      inFlight = Math.max(0, inFlight - 1);
      if (inFlight > 0 || idleMs <= 0) return;
      clearTimeout(timer);
      timer = setTimeout(collect, idleMs);
      timer.unref();
    },
    collections: () => collections,
    close() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
