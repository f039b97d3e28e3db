// Checks every card against the CDS Hooks 2.0.1 card rules before it leaves the server
// (CDS-HOOKS-CHECKLIST §6): required fields, enums, <140-character summary, selectionBehavior
// exactly when there are suggestions, display on override reasons, appContext only on smart links,
// no null and no empty strings, arrays or objects.
import type { Action, Card } from './types.js';

const INDICATORS = new Set(['info', 'warning', 'critical']);
const SELECTION = new Set(['at-most-one', 'any']);
const ACTIONS = new Set(['create', 'update', 'delete']);

export function cardProblems(card: Card): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, message: string): void => {
    if (!ok) problems.push(message);
  };
  const text = (value: unknown): boolean => typeof value === 'string' && value.length > 0;
  need(text(card.summary), 'summary is required');
  if (typeof card.summary === 'string')
    need(
      [...card.summary].length < 140,
      `summary has ${[...card.summary].length} characters; fewer than 140 are allowed`,
    );
  // A template's solo placeholder ("{{x}}") renders the fact as it is: an object where a string belongs is caught here.
  if (card.detail != null) need(typeof card.detail === 'string', 'detail must be a string (Markdown)');
  need(INDICATORS.has(card.indicator), `indicator '${String(card.indicator)}' is not info, warning or critical`);
  need(!!card.source && text(card.source.label), 'source.label is required');
  for (const field of ['url', 'icon'] as const) {
    const value = card.source?.[field];
    if (value != null)
      need(
        typeof value === 'string' && /^https?:\/\/[^\s]+$/.test(value),
        `source.${field} must be an absolute http(s) URL`,
      );
  }
  const topic = card.source?.topic as { code?: unknown; system?: unknown; display?: unknown } | undefined;
  if (topic != null)
    need(
      typeof topic === 'object' &&
        text(topic.code) &&
        text(topic.system) &&
        (topic.display === undefined || typeof topic.display === 'string'),
      'source.topic must be a Coding with code and system (display optional)',
    );
  if (card.suggestions !== undefined) {
    need(
      SELECTION.has(card.selectionBehavior ?? ''),
      'a card with suggestions needs selectionBehavior at-most-one or any',
    );
    card.suggestions.forEach((s, i) => {
      need(text(s.label), `suggestions[${i}].label is required`);
      if (s.isRecommended != null)
        need(typeof s.isRecommended === 'boolean', `suggestions[${i}].isRecommended must be true or false`);
      (s.actions ?? []).forEach((a, j) => problems.push(...actionProblems(a, `suggestions[${i}].actions[${j}]`)));
    });
    if (card.selectionBehavior === 'at-most-one') {
      need(
        card.suggestions.filter((s) => s.isRecommended).length <= 1,
        'at most one suggestion may be recommended when selectionBehavior is at-most-one',
      );
    }
  } else {
    need(card.selectionBehavior === undefined, 'selectionBehavior is only allowed with suggestions');
  }
  (card.overrideReasons ?? []).forEach((r, i) => {
    need(text(r.code) && text(r.system) && text(r.display), `overrideReasons[${i}] needs code, system and display`);
  });
  (card.links ?? []).forEach((l, i) => {
    need(text(l.label) && text(l.url), `links[${i}] needs label and url`);
    need(l.type === 'absolute' || l.type === 'smart', `links[${i}].type must be absolute or smart`);
    if (l.appContext !== undefined) need(l.type === 'smart', `links[${i}].appContext is only allowed on smart links`);
    if (l.appContext != null) need(typeof l.appContext === 'string', `links[${i}].appContext must be a string`);
    if (l.autolaunchable != null)
      need(typeof l.autolaunchable === 'boolean', `links[${i}].autolaunchable must be true or false`);
    if (typeof l.url === 'string') need(/^https?:\/\//.test(l.url), `links[${i}].url must be an absolute http(s) URL`);
  });
  const empties = emptyPaths(card, '');
  if (empties.length > 0) problems.push(`null or empty values are not allowed: ${empties.join(', ')}`);
  return problems;
}

/**
 * The CDS Hooks 2.0.1 rules for one Action (a suggestion's or a systemAction): type, description, a
 * resource for create and update, a Type/id resourceId for delete, no uuid (actions have none).
 */
export function actionProblems(a: Action, at: string): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, message: string): void => {
    if (!ok) problems.push(message);
  };
  const text = (value: unknown): boolean => typeof value === 'string' && value.length > 0;
  need(ACTIONS.has(a.type), `${at}.type '${String(a.type)}' is not create, update or delete`);
  need(text(a.description), `${at}.description is required`);
  need(!('uuid' in a), `${at} has a uuid; CDS Hooks actions have none`);
  if (a.type === 'create' || a.type === 'update')
    need(
      !!a.resource &&
        typeof a.resource === 'object' &&
        !Array.isArray(a.resource) &&
        text((a.resource as { resourceType?: unknown }).resourceType),
      `${at} (${a.type}) needs a resource with a resourceType`,
    );
  if (a.type === 'delete') {
    need(
      text(a.resourceId) && /^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(a.resourceId ?? ''),
      `${at} (delete) needs a resourceId of the form Type/id`,
    );
  }
  if (a.resourceId !== undefined && a.type !== 'delete')
    need(
      /^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(a.resourceId),
      `${at}.resourceId must be a relative reference of the form Type/id`,
    );
  return problems;
}

/** A systemAction stands alone (no card around it): the Action rules, and no null or empty values. */
export function systemActionProblems(a: Action, at: string): string[] {
  const problems = actionProblems(a, at);
  if (a.type === 'delete' && a.resource !== undefined)
    problems.push(`${at} (delete) names its resource in resourceId; resource there is deprecated`);
  const empties = emptyPaths(a, at);
  if (empties.length > 0) problems.push(`null or empty values are not allowed: ${empties.join(', ')}`);
  return problems;
}

function emptyPaths(value: unknown, path: string): string[] {
  if (value === null) return [path || '(root)'];
  if (typeof value === 'string') return value.length === 0 ? [path] : [];
  if (Array.isArray(value)) {
    if (value.length === 0) return [path];
    return value.flatMap((v, i) => emptyPaths(v, `${path}[${i}]`));
  }
  if (typeof value === 'object' && value !== null) {
    // FHIR resources inside actions follow FHIR's own rules; only look at the card's own structure.
    if ('resourceType' in value) return [];
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return [path];
    return entries.flatMap(([k, v]) => emptyPaths(v, path ? `${path}.${k}` : k));
  }
  return [];
}
