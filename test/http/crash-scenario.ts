// A card shown is a card recorded, the scenario: the server process is killed (SIGKILL) three times while it answers
// hook calls and takes feedback; after each restart on the same data, feedback on every card any
// answer carried is taken (none is unknown), and every feedback item acknowledged with 200 before a
// kill is found stored (sent again, it is "already stored").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

export const KILLS = 3;

interface Card {
  uuid: string;
  suggestions: Array<{ uuid: string }>;
}

const start = (dataDir: string, databaseUrl: string) =>
  startServerProcess({
    dataDir,
    env: () => ({
      CDS_KNOWLEDGE_DIR: testKnowledge('basic'),
      CDS_UPTAKE_FLUSH_MS: '250',
      CDS_DATABASE_URL: databaseUrl,
      CDS_PSEUDONYM_KEY: 'crash-test-pseudonym-key-0123456789',
    }),
  });

const item = (card: Card) => ({
  card: card.uuid,
  outcome: 'accepted',
  acceptedSuggestions: [{ id: card.suggestions[0].uuid }],
  outcomeTimestamp: '2026-06-01T12:01:00Z',
});

/** Posts feedback; the per-item results (stored / already stored / the error), or undefined if no answer came. */
async function postFeedback(port: number, cards: Card[]): Promise<string[] | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/cds-services/renal-test/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ feedback: cards.map(item) }),
    });
    const outcome = (await res.json()) as { issue: Array<{ diagnostics: string }> };
    return outcome.issue.map((i) => i.diagnostics);
  } catch {
    return undefined;
  }
}

/**
 * Kills the server KILLS times mid-stream on the ledger `databaseUrl` names (SQLite in a temporary data
 * directory when empty) and checks that nothing served or acknowledged was lost.
 */
export async function killMidStream(databaseUrl = ''): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cds-crash-'));
  let server: ServerProcess | undefined;
  try {
    const received: Card[] = [];
    const acknowledged: Card[] = [];
    const unknownAfterRestart: string[] = [];
    const notKept: string[] = [];
    for (let round = 0; round <= KILLS; round++) {
      server = await start(dataDir, databaseUrl);
      const { port } = server;
      // Every card received before the last kill can be given feedback now...
      for (let i = 0; i < received.length; i += 200) {
        const slice = received.slice(i, i + 200).filter((c) => !acknowledged.includes(c));
        if (slice.length === 0) continue;
        const results = (await postFeedback(port, slice)) ?? ['no answer'];
        unknownAfterRestart.push(...results.filter((r) => !/stored/.test(r)));
      }
      // ...and every item acknowledged before it is still stored.
      for (let i = 0; i < acknowledged.length; i += 200) {
        const results = (await postFeedback(port, acknowledged.slice(i, i + 200))) ?? ['no answer'];
        notKept.push(...results.filter((r) => !/already stored/.test(r)));
      }
      if (round === KILLS) break;

      let stop = false;
      const fresh: Card[] = [];
      const caller = async () => {
        while (!stop) {
          try {
            const res = await fetch(`http://127.0.0.1:${port}/cds-services/renal-test`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(renalRequest()),
            });
            const body = (await res.json()) as { cards?: Card[] };
            if (res.status === 200) for (const card of body.cards ?? []) fresh.push(card);
          } catch {
            return; // killed
          }
        }
      };
      const feedbackSender = async () => {
        while (!stop) {
          const batch = fresh.splice(0, Math.min(fresh.length, 5));
          received.push(...batch);
          if (batch.length === 0) {
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          // Every other batch is given feedback while the server runs; the rest after the restart.
          if (received.length % 2 === 0) {
            const results = await postFeedback(port, batch);
            if (!results) return; // killed before the answer: not acknowledged
            if (results.every((r) => /stored/.test(r))) acknowledged.push(...batch);
          }
        }
      };
      const running = [caller(), caller(), caller(), feedbackSender()];
      // Kill once the stream is well under way: calls and feedback are in flight.
      while (received.length + fresh.length < (round + 1) * 150) await new Promise((r) => setTimeout(r, 20));
      server.child.kill('SIGKILL');
      await server.exited;
      stop = true;
      await Promise.all(running);
      received.push(...fresh.splice(0));
      server = undefined;
    }
    expect(received.length).toBeGreaterThan(KILLS * 100);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(unknownAfterRestart).toEqual([]);
    expect(notKept).toEqual([]);
  } finally {
    server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
