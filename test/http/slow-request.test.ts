// A client that stops sending in the middle of its request: the server answers 408 and closes the connection
// once the call deadline has passed since the request arrived, rather than holding it for Node's five minutes.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServerProcess({ env: () => ({ CDS_CALL_DEADLINE_MS: '1500', CDS_WORKERS: '1' }) });
}, 60_000);
afterAll(() => server?.stop());

/** Sends `head` and waits for the server to answer and close, collecting what it wrote. */
function stall(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(server.port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

it('answers 408 to a hook call whose body stops arriving, and to one whose headers do', async () => {
  const body = await stall(
    'POST /cds-services/nsaid-ckd-order-sign HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 100000\r\n\r\n{"hook":',
  );
  expect(body).toMatch(/^HTTP\/1\.1 408 /);
  const headers = await stall('POST /cds-services/nsaid-ckd-order-sign HTTP/1.1\r\nHost: x\r\nContent-Ty');
  expect(headers).toMatch(/^HTTP\/1\.1 408 /);
  // The server goes on.
  expect((await fetch(`http://127.0.0.1:${server.port}/health`)).status).toBe(200);
}, 30_000);
