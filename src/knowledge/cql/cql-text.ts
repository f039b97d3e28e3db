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

/** The libraries a source includes, as `name@version` (`name@` when no version is given). */
export function includesOf(text: string): string[] {
  return [...stripCqlComments(text).matchAll(INCLUDE)].map((m) => `${unquote(m[1])}@${m[2] ?? ''}`);
}
