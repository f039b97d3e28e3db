// cds simulate: a simulated clinic against a running server, with known truth. Practitioners sign
// (or select) NSAID orders for synthetic patients, a known share of whom have advanced CKD; a share
// of the cards shown get feedback, accepted with the probability of the card's experiment arm. The
// JSON summary sets the truth beside what came back, so the server's figures can be checked.
import { Command, CommanderError } from 'commander';
import { CdsError } from '../errors.js';
import type { CliIo } from './io.js';
import { loadFixtureGenerator, type FixtureGenerator } from './fixture-generator.js';
import {
  baseUrl,
  checkOptions,
  fraction,
  parseAcceptance,
  parseHeader,
  SIMULATE_DEFAULTS,
  wholeNumber,
  type SimulateOptions,
} from './simulate-options.js';
import { buildPatients, planCalls } from './simulate-population.js';
import {
  CREDENTIALS_HINT,
  diagnostics,
  failureReason,
  SimulationRun,
  type DiscoveredService,
  type Http,
  type SimulationSummary,
} from './simulate-run.js';

export { NO_ARM, type SimulationSummary } from './simulate-run.js';

const HOOKS = ['order-sign', 'order-select'];

/** The chance of carrying a suggestion out when only one of --complete-accepted and --complete-otherwise is given. */
const COMPLETE_DEFAULTS = { accepted: 0.8, otherwise: 0.1 };

/**
 * Plays the clinic against the server at `options.url` and resolves to the summary (with `failure`
 * set when too many calls ended in an error). Rejects when the server cannot be reached or has no
 * such service.
 */
export async function simulateClinic(
  given: Partial<SimulateOptions> = {},
  fetchImpl: typeof fetch = fetch,
  generator?: FixtureGenerator,
): Promise<SimulationSummary> {
  const merged: SimulateOptions = { ...SIMULATE_DEFAULTS, ...given };
  checkOptions(merged);
  const options = { ...merged, url: baseUrl(merged.url) };
  const started = performance.now();
  const http = client(options, fetchImpl);
  const { service, followUp } = await discover(http, options);
  const gen = generator ?? (await loadFixtureGenerator());
  const patients = buildPatients(gen, options);
  const plan = planCalls(gen, options, patients);
  const run = new SimulationRun(options, service, gen, plan.length, options.complete ? followUp : undefined);
  // Once more calls have failed than the run may lose, its verdict is known: stop.
  const errorLimit = Math.floor(options.maxErrorShare * options.calls);
  let next = 0;
  // One patient is seen by one clinician at a time: a call of a patient whose last call is still going on (its
  // feedback, what is then signed) waits for it, so the patient's calls reach the server in order.
  const busy = new Map<string, Promise<void>>();
  const worker = async (): Promise<void> => {
    while (next < plan.length && run.failedCalls <= errorLimit) {
      const call = plan[next++];
      while (busy.has(call.patient.id)) await busy.get(call.patient.id);
      const playing = run.play(http, call);
      busy.set(call.patient.id, playing);
      try {
        await playing;
      } finally {
        busy.delete(call.patient.id);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, plan.length) }, worker));
  return run.summary(patients.filter((p) => p.fires).length, performance.now() - started, errorLimit);
}

function client(options: SimulateOptions, fetchImpl: typeof fetch): Http {
  return async (path, post) => {
    const res = await fetchImpl(`${options.url}${path}`, {
      method: post ? 'POST' : 'GET',
      headers: {
        accept: 'application/json',
        ...(post ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      body: post ? JSON.stringify(post.body) : undefined,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await res.text();
    try {
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    } catch {
      return { status: res.status, body: text };
    }
  };
}

async function discover(
  http: Http,
  options: SimulateOptions,
): Promise<{ service: DiscoveredService; followUp?: DiscoveredService }> {
  let answer: { status: number; body: unknown };
  try {
    answer = await http('/cds-services');
  } catch (err) {
    throw new CdsError(
      503,
      'server-unreachable',
      `cannot reach a CDS server at ${options.url} (${failureReason(err)}); ` +
        'start one (e.g. CDS_AUTH=off npm run dev) or give its address with --url',
    );
  }
  if (answer.status !== 200) {
    const why = answer.status === 401 || answer.status === 403 ? CREDENTIALS_HINT : diagnostics(answer.body);
    throw new CdsError(502, 'discovery-failed', `GET ${options.url}/cds-services answered ${answer.status}: ${why}`);
  }
  const services = (answer.body as { services?: DiscoveredService[] } | undefined)?.services;
  if (!Array.isArray(services)) {
    throw new CdsError(
      502,
      'discovery-failed',
      `GET ${options.url}/cds-services did not answer a CDS Hooks discovery document`,
    );
  }
  const service = services.find((s) => s?.id === options.service);
  if (!service) {
    const ids = services.map((s) => s?.id).join(', ') || 'none';
    throw new CdsError(400, 'unknown-service', `${options.url} has no service '${options.service}'; it offers: ${ids}`);
  }
  if (!HOOKS.includes(service.hook)) {
    throw new CdsError(
      400,
      'unsupported-hook',
      `service '${service.id}' answers ${service.hook}; the simulated clinic drafts medication orders, so it plays ` +
        `${HOOKS.join(' and ')} services only`,
    );
  }
  // What is then signed goes to the service itself when it answers order-sign, else to one that does.
  const followUp = service.hook === 'order-sign' ? service : services.find((s) => s?.hook === 'order-sign');
  if (options.complete && !followUp)
    throw new CdsError(
      400,
      'no-order-sign-service',
      `${options.url} offers no order-sign service to send what is signed after the cards to (--complete-*)`,
    );
  return { service, followUp };
}

interface CommandOptions {
  url: string;
  service: string;
  practitioners: string;
  patients: string;
  calls: string;
  accept?: string;
  acceptDefault: string;
  feedbackShare: string;
  fireShare: string;
  seed: string;
  concurrency: string;
  header?: string[];
  timeout: string;
  maxErrorShare: string;
  completeAccepted?: string;
  completeOtherwise?: string;
}

export function simulateCommand(io: CliIo): Command {
  const d = SIMULATE_DEFAULTS;
  return new Command('simulate')
    .description(
      'play a simulated clinic against a running server (e.g. one started with CDS_AUTH=off): practitioners ' +
        'draft NSAIDs for synthetic patients and give feedback on the cards; prints a JSON summary with the ' +
        'true and the observed acceptance',
    )
    .option('--url <url>', 'base URL of the server', d.url)
    .option('--service <id>', 'an order-sign or order-select service (made for the nsaid-ckd services)', d.service)
    .option(
      '--practitioners <n>',
      'number of practitioners (the unit of a practitioner experiment)',
      String(d.practitioners),
    )
    .option('--patients <n>', 'number of synthetic patients', String(d.patients))
    .option('--calls <n>', 'number of hook calls', String(d.calls))
    .option(
      '--accept <arm=p,...>',
      'probability that a card is accepted, per experiment arm, e.g. usual=0.30,new-wording=0.45',
    )
    .option(
      '--accept-default <p>',
      'acceptance probability of a card in no experiment or of an arm not in --accept',
      String(d.acceptDefault),
    )
    .option('--feedback-share <p>', 'share of shown cards that get feedback', String(d.feedbackShare))
    .option(
      '--fire-share <p>',
      'share of patients whose kidney function makes the NSAID card fire',
      String(d.fireShare),
    )
    .option('--seed <n>', 'seed of the patients, visits and decisions (same seed, same run)', String(d.seed))
    .option('--concurrency <n>', 'calls in flight at once', String(d.concurrency))
    .option('--header <header>', "header sent with every request, e.g. 'Authorization: Bearer …' (repeatable)", collect)
    .option('--timeout <ms>', 'time limit of each request', String(d.timeoutMs))
    .option(
      '--max-error-share <p>',
      'fail (exit 1) when more than this share of calls end in an error',
      String(d.maxErrorShare),
    )
    .option(
      '--complete-accepted <p>',
      'follow each call whose card suggests something by the order-sign of what is then signed, in which the ' +
        `suggestion is carried out with this probability when the card was accepted (default ${COMPLETE_DEFAULTS.accepted} ` +
        'once either --complete-* is given); the server reads action completion from these calls',
    )
    .option(
      '--complete-otherwise <p>',
      'the same when the card was overridden or got no feedback ' +
        `(default ${COMPLETE_DEFAULTS.otherwise} once either --complete-* is given)`,
    )
    .action(async (o: CommandOptions) => {
      const options: SimulateOptions = {
        url: baseUrl(o.url),
        service: o.service,
        practitioners: wholeNumber(o.practitioners, '--practitioners', 1, 1_000_000),
        patients: wholeNumber(o.patients, '--patients', 1, 1_000_000),
        calls: wholeNumber(o.calls, '--calls', 1, 100_000_000),
        accept: o.accept === undefined ? {} : parseAcceptance(o.accept),
        acceptDefault: fraction(o.acceptDefault, '--accept-default'),
        feedbackShare: fraction(o.feedbackShare, '--feedback-share'),
        fireShare: fraction(o.fireShare, '--fire-share'),
        seed: wholeNumber(o.seed, '--seed', 0, 2 ** 32 - 1),
        concurrency: wholeNumber(o.concurrency, '--concurrency', 1, 1000),
        headers: Object.fromEntries((o.header ?? []).map(parseHeader)),
        timeoutMs: wholeNumber(o.timeout, '--timeout', 1, 600_000),
        maxErrorShare: fraction(o.maxErrorShare, '--max-error-share'),
        ...(o.completeAccepted !== undefined || o.completeOtherwise !== undefined
          ? {
              complete: {
                accepted:
                  o.completeAccepted === undefined
                    ? COMPLETE_DEFAULTS.accepted
                    : fraction(o.completeAccepted, '--complete-accepted'),
                otherwise:
                  o.completeOtherwise === undefined
                    ? COMPLETE_DEFAULTS.otherwise
                    : fraction(o.completeOtherwise, '--complete-otherwise'),
              },
            }
          : {}),
      };
      const summary = await simulateClinic(options);
      io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
      if (summary.failure) {
        io.stderr(`cds simulate: ${summary.failure}\n`);
        throw new CommanderError(1, 'cds.simulation-failed', summary.failure);
      }
    });
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
