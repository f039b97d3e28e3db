// What a hostile or broken FHIR server costs the engine: a gzip bomb, an endless Bundle and a 100 MiB
// search answer, each named as the fhirServer of a hook call whose prefetch must be fetched. Prints,
// per answer, the call's status and time and the server's resident memory before and after (from
// /proc, Linux), with the limits at their defaults (CDS_FHIR_MAX_BYTES 16 MiB, CDS_CALL_DEADLINE_MS).
//
//   npx tsx bench/hostile-fhir.ts
import { createServer, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startServer } from './http.js';

const MiB = 1024 * 1024;
const bomb = gzipSync(
  Buffer.concat([
    Buffer.from('{"resourceType":"Bundle","type":"searchset","x":"'),
    Buffer.alloc(384 * MiB, 32),
    Buffer.from('"}'),
  ]),
  { level: 9 },
);
const entry = Buffer.from(
  `${JSON.stringify({ resource: { resourceType: 'Observation', id: 'o', status: 'final', code: { text: 'x'.repeat(400) } } })},`,
);

function endless(res: ServerResponse, limitBytes = Number.POSITIVE_INFINITY): void {
  res.writeHead(200, { 'content-type': 'application/fhir+json' });
  res.write('{"resourceType":"Bundle","type":"searchset","entry":[');
  let sent = 0;
  const pump = (): void => {
    while (sent < limitBytes) {
      sent += entry.length;
      if (!res.write(entry)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end('{"resource":{"resourceType":"Observation","id":"last"}}]}');
  };
  res.on('close', () => (sent = Number.POSITIVE_INFINITY));
  pump();
}

const fhir = createServer((req, res) => {
  const kind = (req.url ?? '').split('/')[1];
  if (kind === 'bomb') {
    res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-encoding': 'gzip' });
    res.end(bomb);
  } else if (kind === 'endless') endless(res);
  else if (kind === 'big') endless(res, 100 * MiB);
  else res.writeHead(404).end();
});
await new Promise<void>((resolve) => fhir.listen(0, '127.0.0.1', resolve));
const fhirPort = (fhir.address() as { port: number }).port;

const server = await startServer({ knowledge: join(process.cwd(), 'test/knowledge/basic') });
const { pid } = server;
const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const body = (kind: string) => ({
  hook: 'order-sign',
  hookInstance: crypto.randomUUID(),
  fhirServer: `http://127.0.0.1:${fhirPort}/${kind}`,
  context: {
    userId: 'Practitioner/abc',
    patientId: 'p1',
    draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [] },
  },
  prefetch: { patient: { resourceType: 'Patient', id: 'p1' } },
});
const call = async (kind: string) => {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${server.port}/cds-services/renal-test`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body(kind)),
  });
  const text = await res.text();
  return { status: res.status, ms: performance.now() - started, text };
};

try {
  await call('none');
  await new Promise((r) => setTimeout(r, 1000));
  const idle = rss();
  console.log(`gzip bomb: ${(bomb.length / MiB).toFixed(1)} MiB inflating to 384 MiB; idle RSS ${idle.toFixed(0)} MiB`);
  console.log(`${'answer'.padEnd(10)} status   time ms   RSS after MiB   RSS 3 s later`);
  for (const kind of ['bomb', 'endless', 'big']) {
    const r = await call(kind);
    const after = rss();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    console.log(
      `${kind.padEnd(10)} ${String(r.status).padStart(6)} ${r.ms.toFixed(0).padStart(9)} ${after.toFixed(0).padStart(15)} ${rss().toFixed(0).padStart(15)}   ${r.text.slice(0, 140)}`,
    );
  }
} finally {
  server.stop();
  fhir.close();
  fhir.closeAllConnections();
}
