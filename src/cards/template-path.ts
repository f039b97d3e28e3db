// Paths used by card templates ({{cql['Latest eGFR'].value}}) and forEach: a fact name followed by
// .name, ['quoted name'] or [index].

export type PathSegment = string | number;

const PLACEHOLDER = /\{\{\s*([^{}]+?)\s*\}\}/g;

export function parsePath(text: string): PathSegment[] | undefined {
  const segments: PathSegment[] = [];
  const first = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text);
  if (!first) return undefined;
  segments.push(first[0]);
  let rest = text.slice(first[0].length);
  while (rest.length > 0) {
    let m: RegExpExecArray | null;
    if ((m = /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(rest))) segments.push(m[1]);
    else if ((m = /^\[\s*'((?:[^'\\]|\\.)*)'\s*\]/.exec(rest)) || (m = /^\[\s*"((?:[^"\\]|\\.)*)"\s*\]/.exec(rest)))
      segments.push(m[1].replace(/\\(.)/g, '$1'));
    else if ((m = /^\[\s*(\d+)\s*\]/.exec(rest))) segments.push(Number(m[1]));
    else return undefined;
    rest = rest.slice(m[0].length);
  }
  return segments;
}

export function resolvePath(root: Record<string, unknown>, segments: PathSegment[]): unknown {
  let value: unknown = root;
  for (const segment of segments) {
    if (value === null || value === undefined || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

/** Every placeholder expression in a string. */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** The whole string is one placeholder: it takes the raw value, not its text. */
export function soloPlaceholder(text: string): string | undefined {
  const m = /^\{\{\s*([^{}]+?)\s*\}\}$/.exec(text);
  return m ? m[1] : undefined;
}

export function replacePlaceholders(text: string, replace: (expression: string) => string): string {
  return text.replace(PLACEHOLDER, (_all, expression: string) => replace(expression));
}

/** Every string inside a JSON value, with its JSON pointer. */
export function* stringsIn(value: unknown, pointer = ''): Generator<[string, string]> {
  if (typeof value === 'string') yield [pointer, value];
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* stringsIn(value[i], `${pointer}/${i}`);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value))
      yield* stringsIn(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
}
