import type { RequestHandler } from 'express';
import type { Knowledge, Service } from '../knowledge/index.js';
import type { KnowledgeHolder } from '../knowledge/index.js';
import { KNOWLEDGE_EXTENSION } from '../cards/index.js';

export interface DiscoveryService {
  hook: string;
  title?: string;
  description: string;
  id: string;
  prefetch?: Record<string, string>;
  usageRequirements?: string;
  extension: Record<string, unknown>;
}

/** The CDS Hooks discovery document: every service that can be served, with the knowledge behind it. */
export function discoveryDocument(knowledge: Knowledge): { services: DiscoveryService[] } {
  return { services: knowledge.services.map(describeService) };
}

function describeService({ definition, ruleSet }: Service): DiscoveryService {
  const out: DiscoveryService = {
    hook: definition.hook,
    description: definition.description,
    id: definition.id,
    extension: {},
  };
  if (definition.title) out.title = definition.title;
  if (definition.prefetch && Object.keys(definition.prefetch).length > 0) out.prefetch = definition.prefetch;
  if (definition.usageRequirements) out.usageRequirements = definition.usageRequirements;
  out.extension = {
    ...(definition.extension ?? {}),
    [KNOWLEDGE_EXTENSION]: {
      ruleSet: ruleSet.id,
      version: ruleSet.version,
      status: ruleSet.status,
      ...(ruleSet.libraries.length > 0 ? { cql: ruleSet.libraries } : {}),
    },
  };
  return out;
}

export function discoveryHandler(holder: KnowledgeHolder): RequestHandler {
  return (_req, res) => {
    res.json(discoveryDocument(holder.current()));
  };
}
