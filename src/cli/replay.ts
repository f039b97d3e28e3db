// cds replay --url <server>: posts every example request under fixtures/requests/<service>/ to a
// running server and checks each answer against its .expected.json (rule, indicator, summary, in
// order). Start the server with CDS_EVALUATION_TIME set to the cases' asOf, as the README says.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { KNOWLEDGE_EXTENSION } from '../cards/index.js';
import { packageRoot } from '../paths.js';
import { unreadableRequestFile } from '../errors.js';
import type { CliIo } from './io.js';

interface ReplayOptions {
  url: string;
  dir: string;
  token?: string;
}

interface ExpectedCard {
  rule: string;
  indicator: string;
  summary?: string;
}

export function replayCommand(io: CliIo): Command {
  return new Command('replay')
    .description('post every example request to a running server and compare its cards with the expected ones')
    .option('-u, --url <base>', 'base URL of the server', 'http://localhost:3000')
    .option('-d, --dir <dir>', 'the requests, one folder per service id', join(packageRoot(), 'fixtures', 'requests'))
    .option('--token <jwt>', 'a bearer token to send (servers with verification on)')
    .action(async (options: ReplayOptions) => {
      const base = options.url.replace(/\/+$/, '');
      let matched = 0;
      let total = 0;
      const asOf = new Set<string>();
      for (const { service, name, file, expectedFile } of cases(options.dir)) {
        total++;
        const expected = readJson(expectedFile) as { asOf?: string; cards: ExpectedCard[] };
        if (expected.asOf) asOf.add(expected.asOf);
        const res = await fetch(`${base}/cds-services/${encodeURIComponent(service)}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          },
          body: readFileSync(file, 'utf8'),
        });
        const body = (await res.json().catch(() => ({}))) as { cards?: Array<Record<string, any>> };
        const got = (body.cards ?? []).map((c) => ({
          rule: c.extension?.[KNOWLEDGE_EXTENSION]?.rule as string,
          indicator: c.indicator as string,
          summary: c.summary as string,
        }));
        const same =
          res.status === 200 &&
          got.length === expected.cards.length &&
          expected.cards.every(
            (e, i) =>
              e.rule === got[i].rule &&
              e.indicator === got[i].indicator &&
              (e.summary === undefined || e.summary === got[i].summary),
          );
        if (same) {
          matched++;
          io.stdout(`ok         ${service}/${name}\n`);
        } else {
          const want = expected.cards.map((c) => c.rule).join(', ') || 'no card';
          const have = res.status === 200 ? got.map((c) => c.rule).join(', ') || 'no card' : `status ${res.status}`;
          io.stdout(`DIFFERENT  ${service}/${name}: expected ${want}, got ${have}\n`);
        }
      }
      io.stdout(`${matched} of ${total} requests gave their expected cards\n`);
      if (matched < total) {
        const when = [...asOf].join(', ');
        io.stderr(
          when ? `the cases assume evaluation as of ${when}: start the server with CDS_EVALUATION_TIME=${when}\n` : '',
        );
        throw new CommanderError(1, 'cds.replay-different', 'some requests did not give their expected cards');
      }
    });
}

function cases(dir: string): Array<{ service: string; name: string; file: string; expectedFile: string }> {
  if (!existsSync(dir)) throw unreadableRequestFile(dir, 'no such directory');
  const out = [];
  for (const service of readdirSync(dir).sort()) {
    const folder = join(dir, service);
    if (!statSync(folder).isDirectory()) continue;
    for (const entry of readdirSync(folder).sort()) {
      if (!entry.endsWith('.json') || entry.endsWith('.expected.json')) continue;
      const name = entry.slice(0, -'.json'.length);
      const expectedFile = join(folder, `${name}.expected.json`);
      // A request without expectations is not a case.
      if (existsSync(expectedFile)) out.push({ service, name, file: join(folder, entry), expectedFile });
    }
  }
  return out;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw unreadableRequestFile(file, (err as Error).message);
  }
}
