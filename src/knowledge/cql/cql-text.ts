// Reading a CQL source as text, before any compiling: its library header and its includes.

/** The source with comments blanked out (line numbers kept). */
export function stripCqlComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/\/\/.*$/gm, '');
}

const HEADER = /^\s*library\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)(?:\s+version\s+'([^']+)')?/m;
const INCLUDE = /^\s*include\s+("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)(?:\s+version\s+'([^']+)')?/gm;

const unquote = (name: string) => name.replace(/^"|"$/g, '');

/** `library Name version 'x'`: the library's identity (version undefined when the header has none). */
export function libraryHeader(text: string): { name: string; version?: string } | undefined {
  const m = HEADER.exec(stripCqlComments(text));
  return m ? { name: unquote(m[1]), version: m[2] } : undefined;
}

/** A library version's key, `name@version`: the form includesOf gives too. */
export function libraryKey(name: string, version: string): string {
  return `${name}@${version}`;
}

/** The libraries a source includes, as `name@version` (`name@` when no version is given). */
export function includesOf(text: string): string[] {
  return [...stripCqlComments(text).matchAll(INCLUDE)].map((m) => libraryKey(unquote(m[1]), m[2] ?? ''));
}

/** Orders versions numerically part by part (1.10.0 after 1.9.0); non-numeric parts compare as text. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}
