// The lifecycle of a rule set version, as HL7 CRMI defines it: draft (editable, never shown to an
// EHR unless the server serves drafts), active (immutable once served), retired (never served).
// CQL has no status of its own: a library follows the rule sets that use it (frozen once an active
// or retired rule set that runs it has been served, never because of a draft).
import { canonicalJson, sha256 } from './files.js';
import type { RuleSet } from './types.js';

export type Status = RuleSet['status'];
export const STATUSES: readonly Status[] = ['draft', 'active', 'retired'];

export const SERVE_DRAFTS_WARNING =
  'Draft knowledge is SERVED (CDS_SERVE_DRAFTS=on): EHRs get cards from versions that have not been released. ' +
  'For development only.';

/** Why a version cannot be a service's live knowledge, or undefined when it can. */
export function lifecycleReason(
  ruleSet: Pick<RuleSet, 'id' | 'version' | 'status'>,
  serveDrafts: boolean,
): string | undefined {
  const name = `rule set ${ruleSet.id}@${ruleSet.version}`;
  if (ruleSet.status === 'retired') return `${name} is retired: a retired version is never served`;
  if (ruleSet.status === 'draft' && !serveDrafts) {
    return `${name} is a draft: drafts are served only with CDS_SERVE_DRAFTS=on`;
  }
  return undefined;
}

/** The content hash of a rule set version: its canonical JSON without `status`, so release and retire keep it. */
export function ruleSetHash(value: unknown): string {
  const { status: _status, ...rest } = value as Record<string, unknown>;
  return sha256(canonicalJson(rest));
}

/**
 * The hashes earlier versions of the product recorded for this file: the bytes of the file, as they
 * were served, under any status (a release or retirement since then changed only the status value).
 */
export function legacyRuleSetHashes(text: string): string[] {
  const hashes = new Set([sha256(text)]);
  if (findStatus(text)) for (const status of STATUSES) hashes.add(sha256(withStatus(text, status)));
  return [...hashes];
}

export interface StatusSpan {
  value: string;
  /** Offsets of the value's string token, quotes included: text.slice(start, end) === JSON.stringify(value). */
  start: number;
  end: number;
}

/** Where the top-level "status" string of a JSON object text is; undefined when it has none. */
export function findStatus(text: string): StatusSpan | undefined {
  let depth = 0;
  let i = 0;
  const skipSpace = (at: number): number => {
    while (at < text.length && /\s/.test(text[at])) at++;
    return at;
  };
  const stringEnd = (at: number): number => {
    let j = at + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(i);
      const afterKey = skipSpace(end);
      if (depth === 1 && text[afterKey] === ':' && JSON.parse(text.slice(i, end)) === 'status') {
        const start = skipSpace(afterKey + 1);
        if (text[start] !== '"') return undefined;
        const valueEnd = stringEnd(start);
        return { value: JSON.parse(text.slice(start, valueEnd)) as string, start, end: valueEnd };
      }
      i = end;
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return undefined;
}

/** The same text with only the top-level status value replaced: formatting, order and the rest kept as they are. */
export function withStatus(text: string, status: Status): string {
  const span = findStatus(text);
  if (!span) throw new Error('the file has no top-level "status" string');
  return `${text.slice(0, span.start)}${JSON.stringify(status)}${text.slice(span.end)}`;
}
