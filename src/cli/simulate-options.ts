// The options of the simulated clinic, their defaults, and the parsing of their command-line text.
// Every problem is an error naming the option and what it must be.
import { CdsError } from '../errors.js';

export interface SimulateOptions {
  /** Base URL of the running server. */
  url: string;
  service: string;
  practitioners: number;
  patients: number;
  calls: number;
  /** Probability that a clinician accepts a card, per experiment arm. */
  accept: Record<string, number>;
  /** The same for a card of a call in no experiment, or of an arm not in `accept`. */
  acceptDefault: number;
  /** Share of shown cards that get feedback. */
  feedbackShare: number;
  /** Share of patients whose kidney function makes the NSAID card fire. */
  fireShare: number;
  seed: number;
  concurrency: number;
  /** Sent with every request, e.g. `{ Authorization: 'Bearer …' }`. */
  headers: Record<string, string>;
  timeoutMs: number;
  /** The run fails when more than this share of calls end in an error. */
  maxErrorShare: number;
  /**
   * When given, each call whose cards make a suggestion is followed by the order-sign of what the clinician then
   * signs: the card's suggestion carried out with probability `accepted` when the card was accepted, `otherwise`
   * when not (overridden or no feedback), else the drafts unchanged. The server reads completion from these calls.
   */
  complete?: { accepted: number; otherwise: number };
}

export const SIMULATE_DEFAULTS: SimulateOptions = {
  url: 'http://localhost:3000',
  service: 'nsaid-ckd-order-sign',
  practitioners: 40,
  patients: 400,
  calls: 2000,
  accept: {},
  acceptDefault: 0.3,
  feedbackShare: 0.8,
  fireShare: 0.5,
  seed: 1,
  concurrency: 4,
  headers: {},
  timeoutMs: 10_000,
  maxErrorShare: 0.02,
};

const invalid = (message: string) => new CdsError(400, 'invalid-option', message);

/** `usual=0.30,new-wording=0.45` → `{ usual: 0.3, 'new-wording': 0.45 }`. */
export function parseAcceptance(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  const parts = text.split(',').map((p) => p.trim());
  if (parts.every((p) => p === ''))
    throw invalid(`--accept '${text}' names no arm: give arm=probability, e.g. usual=0.30,new-wording=0.45`);
  for (const part of parts) {
    const eq = part.indexOf('=');
    const name = eq >= 0 ? part.slice(0, eq).trim() : '';
    const value = eq >= 0 ? part.slice(eq + 1).trim() : '';
    if (eq < 0 || name === '' || value === '') {
      throw invalid(`--accept: '${part}' is not arm=probability (e.g. usual=0.30,new-wording=0.45)`);
    }
    if (name in out) throw invalid(`--accept: arm '${name}' is given twice`);
    out[name] = fraction(value, `--accept: the probability of arm '${name}'`);
  }
  return out;
}

/** A number from 0 to 1; `what` names it in the error. */
export function fraction(text: string, what: string): number {
  const n = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 1)) throw invalid(`${what} must be a number from 0 to 1, not '${text}'`);
  return n;
}

/** A whole number from `min` to `max`; `what` names it in the error. */
export function wholeNumber(text: string, what: string, min: number, max: number): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!(Number.isSafeInteger(n) && n >= min && n <= max)) {
    throw invalid(`${what} must be a whole number from ${min} to ${max}, not '${text}'`);
  }
  return n;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** `Authorization: Bearer abc` → `['Authorization', 'Bearer abc']`. */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon >= 0 ? text.slice(0, colon).trim() : '';
  const value = colon >= 0 ? text.slice(colon + 1).trim() : '';
  if (!TOKEN.test(name) || value === '' || /[\r\n\0]/.test(value)) {
    throw invalid(`--header '${text}' is not 'Name: value' (e.g. --header 'Authorization: Bearer …')`);
  }
  return [name, value];
}

/** The server's base URL without a trailing slash; http or https only. */
export function baseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`--url '${text}' is not a URL (e.g. http://localhost:3000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid(`--url '${text}' must be http:// or https://`);
  return url.href.replace(/\/+$/, '');
}

/** Every problem of options given in code (the command line parses each on its own), all at once. */
export function checkOptions(o: SimulateOptions): void {
  const problems: string[] = [];
  const whole = (name: string, n: number, min: number) => {
    if (!Number.isSafeInteger(n) || n < min)
      problems.push(`${name} must be a whole number of at least ${min}, not ${n}`);
  };
  const share = (name: string, n: number) => {
    if (!(n >= 0 && n <= 1)) problems.push(`${name} must be a number from 0 to 1, not ${n}`);
  };
  whole('practitioners', o.practitioners, 1);
  whole('patients', o.patients, 1);
  whole('calls', o.calls, 1);
  whole('concurrency', o.concurrency, 1);
  whole('timeoutMs', o.timeoutMs, 1);
  whole('seed', o.seed, 0);
  share('acceptDefault', o.acceptDefault);
  share('feedbackShare', o.feedbackShare);
  share('fireShare', o.fireShare);
  share('maxErrorShare', o.maxErrorShare);
  for (const [arm, p] of Object.entries(o.accept)) share(`accept['${arm}']`, p);
  if (o.complete) {
    share('complete.accepted', o.complete.accepted);
    share('complete.otherwise', o.complete.otherwise);
  }
  if (problems.length > 0) throw invalid(`invalid simulation options: ${problems.join('; ')}`);
}
