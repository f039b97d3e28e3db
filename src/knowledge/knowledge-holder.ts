import type { Knowledge, Service } from './types.js';

/**
 * The knowledge currently served. A call takes the current snapshot once and uses it to the end,
 * so a swap (reload) never changes knowledge under a call in flight.
 */
export interface KnowledgeHolder {
  current(): Knowledge;
  swap(next: Knowledge): void;
}

export function createKnowledgeHolder(initial: Knowledge): KnowledgeHolder {
  let knowledge = initial;
  return {
    current: () => knowledge,
    swap: (next) => {
      knowledge = next;
    },
  };
}

export function servicesById(knowledge: Knowledge, id: string): Service[] {
  return knowledge.services.filter((s) => s.definition.id === id);
}
