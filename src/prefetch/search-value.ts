// FHIR search values (https://hl7.org/fhir/R4/search.html#escaping): in a parameter's value `,` separates
// alternatives, `|` separates a token's system from its code and `$` composite parts, so each of them, and the
// escape character `\` itself, is escaped with `\` when it is part of a value; the result is then percent-encoded
// where a URL's query needs it. Prefetch derived from the CQL writes values this way and the local search (which
// fills prefetch from a record in a file) reads them back.

/** `\`, `,`, `|` and `$` of a value escaped with `\`. */
export function escapeSearchValue(value: string): string {
  return value.replace(/[\\,|$]/g, (c) => `\\${c}`);
}

/**
 * A value for a URL's query: percent-encoded except for the characters a query may hold as they are and that
 * templates show for legibility (`:` and `/` of a URL, `|` between a token's system and code: a `|` that is part
 * of a value was escaped as `\|`, whose `\` is encoded).
 */
export function encodeSearchValue(escaped: string): string {
  return encodeURIComponent(escaped).replace(/%3A/gi, ':').replace(/%2F/gi, '/').replace(/%7C/gi, '|');
}

/** `system|code` as a token search value (escaped and encoded). */
export function tokenSearchValue(system: string | undefined, code: string): string {
  const part = (s: string) => encodeSearchValue(escapeSearchValue(s));
  return system === undefined ? part(code) : `${part(system)}|${part(code)}`;
}

/** Splits a decoded search value at each `separator` not escaped with `\`; the parts keep their escapes. */
export function splitSearchValue(value: string, separator: ',' | '|' | '$'): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) {
      current += c + value[i + 1];
      i++;
    } else if (c === separator) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** A value part with its escapes removed (`\,` → `,`, `\\` → `\`). */
export function unescapeSearchValue(value: string): string {
  return value.replace(/\\([\\,|$])/g, '$1');
}

/** A token search value as system and code; no `|`: any system; a leading `|`: no system. */
export function parseTokenValue(value: string): { system?: string; code: string } {
  const parts = splitSearchValue(value, '|');
  if (parts.length === 1) return { code: unescapeSearchValue(parts[0]) };
  return { system: unescapeSearchValue(parts[0]), code: unescapeSearchValue(parts.slice(1).join('|')) };
}
