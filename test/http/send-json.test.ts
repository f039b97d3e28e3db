// The answer of a hook call is written in one pass (sendJson): the same bytes and headers as res.json.
import { describe, expect, it } from 'vitest';
import express from 'express';
import request from 'supertest';
import { sendJson } from '../../src/http/json-body.js';
import { knowledgeFrom, testApp, testKnowledge } from '../support/app.js';
import { renalRequest } from '../support/requests.js';

describe('sendJson', () => {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const body = {
    cards: Array.from({ length: 40 }, (_, i) => ({ summary: `Dosis prüfen — 用量 ${i} 😀`, indicator: 'warning' })),
    empty: {},
    n: [1.5, -0, 1e21, null],
  };
  app.get('/express', (_req, res) => res.json(body));
  app.get('/once', (_req, res) => sendJson(res, body));

  it('answers the same bytes and headers as res.json', async () => {
    const [viaExpress, once] = await Promise.all([request(app).get('/express'), request(app).get('/once')]);
    const headers = (h: Record<string, string>) => {
      const { date: _date, ...rest } = h;
      return rest;
    };
    expect(once.status).toBe(200);
    expect(once.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(headers(once.headers)).toEqual(headers(viaExpress.headers));
    expect(Number(once.headers['content-length'])).toBe(Buffer.byteLength(JSON.stringify(body)));
    expect(once.text).toBe(viaExpress.text);
  });

  it('writes a hook call answer as JSON in UTF-8 with its length', async () => {
    const knowledge = await knowledgeFrom(testKnowledge('basic'));
    const res = await request(testApp({ knowledge, now: '2026-06-01T12:00:00Z' }))
      .post('/cds-services/renal-test')
      .send(renalRequest());
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    expect(res.body.cards.length).toBeGreaterThan(0);
  });
});
