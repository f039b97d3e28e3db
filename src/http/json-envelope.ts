// A hook call's body as the HTTP thread reads it when an evaluation thread evaluates the call: the whole
// body is checked to be JSON, but only the members the HTTP thread reads (hook, hookInstance, context,
// fhirServer...) are built; the prefetch, most of a large call, is left to the thread, which parses the bytes.

import { MAX_JSON_DEPTH } from '../json-depth.js';

/** Where JSON nests deeper than MAX_JSON_DEPTH: the offset of the bracket that opens one level too many. */
export class JsonTooDeepError extends Error {
  constructor(readonly offset: number) {
    super(`JSON nested deeper than ${MAX_JSON_DEPTH} levels at offset ${offset}`);
    this.name = 'JsonTooDeepError';
  }
}

/** Where a body stops being JSON (a byte offset), thrown by the scan. */
export class JsonSyntaxError extends Error {
  constructor(readonly offset: number) {
    super(`not JSON at byte ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
/** After a backslash in a string: " \\ / b f n r t (u is read apart), by byte. */
const ESCAPE = new Uint8Array(256);
for (const c of '"\\/bfnrt') ESCAPE[c.charCodeAt(0)] = 1;
const isHex = (c: number) => (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

interface Member {
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

/** The offset after the string that starts (with its quote) at `i`. */
function skipString(b: Uint8Array, i: number, n: number): number {
  for (i++; i < n;) {
    const c = b[i];
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) {
      const e = b[i + 1];
      if (e === 0x75) {
        for (let k = 2; k < 6; k++) if (!isHex(b[i + k])) throw new JsonSyntaxError(i + k);
        i += 6;
      } else if (ESCAPE[e] === 1) i += 2;
      else throw new JsonSyntaxError(i + 1);
    } else if (c < SPACE) throw new JsonSyntaxError(i);
    else i++;
  }
  throw new JsonSyntaxError(n);
}

function skipDigits(b: Uint8Array, i: number): number {
  const from = i;
  while (b[i] >= ZERO && b[i] <= NINE) i++;
  if (i === from) throw new JsonSyntaxError(i);
  return i;
}

/** The offset after the number that starts at `i`. */
function skipNumber(b: Uint8Array, i: number): number {
  if (b[i] === MINUS) i++;
  if (b[i] === ZERO) i++;
  else i = skipDigits(b, i);
  if (b[i] === DOT) i = skipDigits(b, i + 1);
  if (b[i] === 0x65 || b[i] === 0x45) {
    i++;
    if (b[i] === PLUS || b[i] === MINUS) i++;
    i = skipDigits(b, i);
  }
  return i;
}

function skipWord(b: Uint8Array, i: number, word: string): number {
  for (let k = 0; k < word.length; k++, i++) if (b[i] !== word.charCodeAt(k)) throw new JsonSyntaxError(i);
  return i;
}

const VALUE = 0;
const AFTER_VALUE = 1;
const KEY = 2;
const KEY_OR_CLOSE = 3;
const VALUE_OR_CLOSE = 4;

/**
 * Checks that `bytes` (UTF-8, a byte order mark allowed) are one JSON text whose top level is an object or an
 * array (as express.json's strict mode), and returns where each member of a top-level object is. Throws
 * JsonSyntaxError at the first byte that cannot be JSON, JsonTooDeepError at a level deeper than MAX_JSON_DEPTH.
 * Bytes that are not UTF-8 are not checked: a decoder reads them as U+FFFD, and JSON.parse takes those in strings
 * as it takes any character. One loop over the bytes with its state in locals (no closure), at about the speed of
 * JSON.parse without building anything.
 */
export function scanJson(bytes: Uint8Array): { start: number; members?: Member[] } {
  const b = bytes;
  const n = b.length;
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (b[i] === SPACE || b[i] === LF || b[i] === CR || b[i] === TAB) i++;
  const start = i;
  if (b[i] !== OPEN_OBJECT && b[i] !== OPEN_ARRAY) throw new JsonSyntaxError(i);
  const topIsObject = b[i] === OPEN_OBJECT;
  const members: Member[] = [];
  let keyStart = -1;
  let keyEnd = -1;
  let valueStart = -1;
  /** The open containers, innermost last: 1 for an object, 0 for an array. */
  const open: number[] = [];
  let state = VALUE;
  for (;;) {
    let c = b[i];
    while (c === SPACE || c === LF || c === CR || c === TAB) c = b[++i];
    switch (state) {
      case VALUE:
        if (open.length === 1 && topIsObject) valueStart = i;
        if (c === QUOTE) {
          i = skipString(b, i, n);
          state = AFTER_VALUE;
        } else if (c === OPEN_OBJECT) {
          if (open.length >= MAX_JSON_DEPTH) throw new JsonTooDeepError(i);
          i++;
          open.push(1);
          state = KEY_OR_CLOSE;
        } else if (c === OPEN_ARRAY) {
          if (open.length >= MAX_JSON_DEPTH) throw new JsonTooDeepError(i);
          i++;
          open.push(0);
          state = VALUE_OR_CLOSE;
        } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
          i = skipNumber(b, i);
          state = AFTER_VALUE;
        } else if (c === 0x74) {
          i = skipWord(b, i, 'true');
          state = AFTER_VALUE;
        } else if (c === 0x66) {
          i = skipWord(b, i, 'false');
          state = AFTER_VALUE;
        } else if (c === 0x6e) {
          i = skipWord(b, i, 'null');
          state = AFTER_VALUE;
        } else throw new JsonSyntaxError(i);
        break;
      case VALUE_OR_CLOSE:
        if (c === CLOSE_ARRAY) {
          i++;
          open.pop();
          state = AFTER_VALUE;
        } else state = VALUE;
        break;
      case KEY_OR_CLOSE:
      case KEY:
        if (c === CLOSE_OBJECT && state === KEY_OR_CLOSE) {
          i++;
          open.pop();
          state = AFTER_VALUE;
          break;
        }
        if (c !== QUOTE) throw new JsonSyntaxError(i);
        if (open.length === 1) keyStart = i;
        i = skipString(b, i, n);
        if (open.length === 1) keyEnd = i;
        while (b[i] === SPACE || b[i] === LF || b[i] === CR || b[i] === TAB) i++;
        if (b[i] !== COLON) throw new JsonSyntaxError(i);
        i++;
        state = VALUE;
        break;
      default: {
        // After a value: a comma, or the end of the container it closes.
        const depth = open.length;
        if (depth === 1 && valueStart >= 0) {
          members.push({ keyStart, keyEnd, valueStart, valueEnd: i });
          valueStart = -1;
        }
        if (depth === 0) {
          if (i !== n) throw new JsonSyntaxError(i);
          return topIsObject ? { start, members } : { start };
        }
        const inObject = open[depth - 1] === 1;
        if (c === COMMA) {
          i++;
          state = inObject ? KEY : VALUE;
        } else if (c === (inObject ? CLOSE_OBJECT : CLOSE_ARRAY)) {
          i++;
          open.pop();
        } else throw new JsonSyntaxError(i);
      }
    }
  }
}

const decoder = new TextDecoder();

/**
 * The body as JSON.parse would make it, but for the top-level member named `leftOut`, which is checked and not
 * built. Throws JsonSyntaxError where the bytes are not JSON (nothing of the body is in its message).
 */
export function parseLeavingOut(bytes: Uint8Array, leftOut: string): unknown {
  const { start, members } = scanJson(bytes);
  if (!members) return JSON.parse(decoder.decode(bytes.subarray(start)));
  const out: Record<string, unknown> = {};
  for (const m of members) {
    const key = JSON.parse(decoder.decode(bytes.subarray(m.keyStart, m.keyEnd))) as string;
    if (key === leftOut) continue;
    const value: unknown = JSON.parse(decoder.decode(bytes.subarray(m.valueStart, m.valueEnd)));
    // As JSON.parse makes it: an own property, even for "__proto__".
    Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return out;
}

/** "line L, column C" of a byte offset (1-based), as the JSON parse error reports it. */
export function lineColumnOf(bytes: Uint8Array, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset && k < bytes.length; k++) {
    if (bytes[k] === LF) {
      line++;
      lineStart = k + 1;
    }
  }
  return `line ${line}, column ${decoder.decode(bytes.subarray(lineStart, offset)).length + 1}`;
}
