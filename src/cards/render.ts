// Card templates → cards: fills {{placeholders}} from the facts of one evaluation.
import { randomUUID } from 'node:crypto';
import { parsePath, replacePlaceholders, resolvePath, soloPlaceholder } from './template-path.js';
import type { Action, ActionTemplate, Card, CardTemplate } from './types.js';

export class TemplateError extends Error {
  constructor(
    readonly expression: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

export function renderCard(
  template: CardTemplate,
  facts: Record<string, unknown>,
  extension: Record<string, unknown>,
): Card {
  const filled = fill(template, facts) as Card;
  const card: Card = { uuid: randomUUID(), ...filled };
  if (card.suggestions) card.suggestions = card.suggestions.map((s) => ({ ...s, uuid: randomUUID() }));
  // The template's own extension keys sit beside the engine's, which always win.
  const own = filled.extension as unknown;
  if (own !== undefined && (own === null || typeof own !== 'object' || Array.isArray(own)))
    throw new TemplateError('extension', 'the card extension must render to an object');
  card.extension = { ...(own as Record<string, unknown> | undefined), ...extension };
  return card;
}

/** A systemAction from its template: placeholders filled, no uuid (CDS Hooks 2.0.1 actions have none). */
export function renderSystemAction(template: ActionTemplate, facts: Record<string, unknown>): Action {
  const { uuid: _uuid, ...action } = fill(template, facts) as Action & { uuid?: unknown };
  return action;
}

function fill(value: unknown, facts: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const solo = soloPlaceholder(value);
    if (solo !== undefined) {
      const raw = lookup(solo, facts);
      return typeof raw === 'object' ? structuredClone(raw) : asText(solo, raw);
    }
    return replacePlaceholders(value, (expression) => asText(expression, lookup(expression, facts)));
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, facts));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, facts)]));
  }
  return value;
}

function lookup(expression: string, facts: Record<string, unknown>): unknown {
  const path = parsePath(expression);
  if (!path) throw new TemplateError(expression, `'${expression}' is not a valid placeholder path`);
  const value = resolvePath(facts, path);
  if (value === undefined || value === null)
    throw new TemplateError(expression, `placeholder {{${expression}}} has no value`);
  return value;
}

/** Text for a value inside a sentence: quantities with their unit, codes by display, lists joined. */
export function asText(expression: string, value: unknown): string {
  if (value === null || value === undefined)
    throw new TemplateError(expression, `placeholder {{${expression}}} has no value`);
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(6)));
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.map((v) => asText(expression, v)).join(', ');
  const v = value as Record<string, unknown>;
  if (typeof v.value === 'number' && ('unit' in v || 'code' in v || 'comparator' in v)) {
    // CQL Quantity {value, unit} or FHIR Quantity {value, comparator?, unit?, code?}: the
    // comparator is a modifier ("<5 mg/L" is not "5 mg/L").
    const unitText = typeof v.unit === 'string' ? v.unit : typeof v.code === 'string' ? v.code : '';
    const unit = unitText && unitText !== '1' ? ` ${unitText}` : '';
    const comparator = typeof v.comparator === 'string' ? v.comparator : '';
    return `${comparator}${asText(expression, v.value)}${unit}`;
  }
  if (typeof v.display === 'string') return v.display;
  if (typeof v.text === 'string') return v.text;
  if (Array.isArray(v.coding) && v.coding.length > 0) return asText(expression, v.coding[0]);
  if (Array.isArray(v.codes) && v.codes.length > 0) return asText(expression, v.codes[0]);
  if (typeof v.code === 'string') return v.code;
  if (typeof v.reference === 'string') return v.reference;
  throw new TemplateError(expression, `placeholder {{${expression}}} is an object that cannot be shown as text`);
}
