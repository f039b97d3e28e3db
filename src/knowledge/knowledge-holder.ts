import type { Knowledge, Service } from './types.js';

/**
 * The knowledge currently served. A call takes the current snapshot once and uses it to the end,
 * so a swap (reload) never changes knowledge under a call in flight.
 */
export interface KnowledgeHolder {
  current(): Knowledge;
  swap(next: Knowledge): void;
  /** Calls `listener` with each snapshot swapped in from now on (after the swap; a throwing listener is ignored). */
  onSwap?(listener: (next: Knowledge) => void): void;
}

export function createKnowledgeHolder(initial: Knowledge): KnowledgeHolder {
  let knowledge = initial;
  const listeners: Array<(next: Knowledge) => void> = [];
  return {
    current: () => knowledge,
    swap: (next) => {
      knowledge = next;
      for (const listener of listeners) {
        try {
          listener(next);
        } catch {
          // a listener's failure must not undo or fail the swap
        }
      }
    },
    onSwap: (listener) => {
      listeners.push(listener);
    },
  };
}

export function servicesById(knowledge: Knowledge, id: string): Service[] {
  return knowledge.services.filter((s) => s.definition.id === id);
}
