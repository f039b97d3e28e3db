// How deep JSON taken from outside (a request body, a FHIR server's answer) may nest.

/**
 * Deepest nesting of arrays and objects taken from a caller or a FHIR server. No FHIR resource or CDS Hooks
 * request comes near it; JSON.parse builds deeper values, but the structured clone that carries a call's data
 * back from an evaluation thread cannot read them (the thread's answer is lost), and JSON.stringify fails on them.
 */
export const MAX_JSON_DEPTH = 256;

/**
 * The offset (in UTF-16 code units of `text`) of the first bracket that opens a level deeper than `max`, or -1.
 * Only counts: whether `text` is JSON is for the parser to say. Structural characters are ASCII, so the text may
 * also be UTF-8 bytes read as latin1 (the offset is then a byte offset).
 */
export function tooDeepAt(text: string, max = MAX_JSON_DEPTH): number {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string (most of a JSON text) to its closing quote: one not escaped by an odd run of backslashes.
      for (;;) {
        const quote = text.indexOf('"', i + 1);
        if (quote < 0) return -1;
        let backslashes = 0;
        while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
        i = quote;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return i;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return -1;
}
