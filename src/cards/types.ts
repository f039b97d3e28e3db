// The card template language (what a rule's event carries) and the CDS Hooks cards it renders to.

export interface Coding {
  system: string;
  code: string;
  display?: string;
}

export interface CardTemplate {
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; icon?: string; topic?: Coding };
  selectionBehavior?: 'at-most-one' | 'any';
  suggestions?: Array<{
    label: string;
    isRecommended?: boolean;
    actions?: Array<{
      type: 'create' | 'update' | 'delete';
      description: string;
      resource?: unknown;
      resourceId?: string;
    }>;
  }>;
  overrideReasons?: Coding[];
  links?: Array<{
    label: string;
    url: string;
    type: 'absolute' | 'smart';
    appContext?: string;
    autolaunchable?: boolean;
  }>;
  /** Artifact-specific data for the card's extension; the engine's KNOWLEDGE_EXTENSION is added beside it. */
  extension?: Record<string, unknown>;
}

/** A systemAction template: an Action whose strings may hold {{placeholders}}. */
export type ActionTemplate = Action;

export interface Action {
  type: 'create' | 'update' | 'delete';
  description: string;
  resource?: unknown;
  resourceId?: string;
}

export interface Suggestion {
  label: string;
  uuid?: string;
  isRecommended?: boolean;
  actions?: Action[];
}

export interface Link {
  label: string;
  url: string;
  type: 'absolute' | 'smart';
  appContext?: string;
  autolaunchable?: boolean;
}

export interface Card {
  uuid?: string;
  summary: string;
  detail?: string;
  indicator: 'info' | 'warning' | 'critical';
  source: { label: string; url?: string; icon?: string; topic?: Coding };
  suggestions?: Suggestion[];
  selectionBehavior?: 'at-most-one' | 'any';
  overrideReasons?: Coding[];
  links?: Link[];
  extension?: Record<string, unknown>;
}

export interface CdsResponse {
  cards: Card[];
  systemActions?: Action[];
}

/** Key of the card extension that names the knowledge behind a card. */
export const KNOWLEDGE_EXTENSION = 'org.cdsengine.knowledge';
