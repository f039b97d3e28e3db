// A hook call's body read for an evaluation thread: checked as JSON.parse would check it, built without
// its prefetch, whose bytes go to the thread.
import { describe, expect, it } from 'vitest';
import express from 'express';
import request from 'supertest';
import { JsonSyntaxError, parseLeavingOut, scanJson } from '../../src/http/json-envelope.js';
import { jsonBody } from '../../src/http/json-body.js';
import { errorHandler } from '../../src/http/error-handler.js';
import { createLogger } from '../../src/logger.js';
import { MAX_JSON_DEPTH, tooDeepAt } from '../../src/json-depth.js';

const bytes = (text: string) => new TextEncoder().encode(text);

const VALID = [
  '{}',
  '[]',
  ' \n\t{"a":1}\r\n',
  '{"a":[1,-2.5e+3,0,0.1,1E9,true,false,null,"x"],"b":{"c":{}},"d":[]}',
  '{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00 é 😀"}',
  '{"__proto__":{"x":1},"a":1,"a":2}',
  '[{"prefetch":1}]',
  '\ufeff{"a":1}',
];
const INVALID = [
  '',
  '1',
  '"x"',
  '{',
  '{"a":1,}',
  '{"a" 1}',
  '{"a":01}',
  '{"a":1.}',
  '{"a":-}',
  '{"a":.5}',
  '{"a":1e}',
  '[1 2]',
  '[1,]',
  '{"a":tru}',
  '{"a":"\\x"}',
  '{"a":"\\u12G4"}',
  '{"a":"tab\there"}',
  '{"a":"open}',
  '{} {}',
  '{"a":1}]',
  "{'a':1}",
  '{a:1}',
  '[NaN]',
];

describe('scanJson', () => {
  it('takes every JSON text JSON.parse takes with an object or array at the top', () => {
    for (const text of VALID) {
      expect(() => JSON.parse(text.replace(/^\ufeff/, '')), text).not.toThrow();
      expect(() => scanJson(bytes(text)), text).not.toThrow();
    }
  });
  it('refuses what JSON.parse refuses, or what is not an object or array at the top', () => {
    for (const text of INVALID) expect(() => scanJson(bytes(text)), text).toThrow(JsonSyntaxError);
  });
  it('says where the text stops being JSON', () => {
    expect(() => scanJson(bytes('{"a":1,}'))).toThrow(expect.objectContaining({ offset: 7 }));
  });
  it('refuses nesting deeper than MAX_JSON_DEPTH where it starts, however deep it goes', () => {
    const deep = `{"prefetch":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    expect(() => parseLeavingOut(bytes(deep), 'prefetch')).toThrow(
      expect.objectContaining({ name: 'JsonTooDeepError', offset: 12 + MAX_JSON_DEPTH - 1 }),
    );
    const deepest = `{"prefetch":${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`;
    expect(parseLeavingOut(bytes(deepest), 'prefetch')).toEqual({});
  });
});

describe('parseLeavingOut', () => {
  it('builds the body as JSON.parse does, but for the member left out', () => {
    for (const text of VALID) {
      const parsed = JSON.parse(text.replace(/^\ufeff/, '')) as unknown;
      const expected =
        parsed && typeof parsed === 'object' && !Array.isArray(parsed)
          ? Object.fromEntries(Object.entries(parsed).filter(([k]) => k !== 'prefetch'))
          : parsed;
      expect(parseLeavingOut(bytes(text), 'prefetch'), text).toStrictEqual(expected);
    }
    const body = parseLeavingOut(
      bytes('{"hook":"h","prefetch":{"p":{"resourceType":"Patient"}},"context":{}}'),
      'prefetch',
    );
    expect(body).toEqual({ hook: 'h', context: {} });
    expect(Object.keys(body as object)).toEqual(['hook', 'context']);
    expect(Object.getPrototypeOf(parseLeavingOut(bytes('{"__proto__":{"x":1}}'), 'prefetch'))).toBe(Object.prototype);
  });
});

function appWith(keepBytes: boolean) {
  const app = express();
  app.post('/call', ...jsonBody(1_000_000, { keepBytes }), (req, res) => {
    const raw = res.locals.rawBody;
    res.json({ body: req.body as unknown, raw: raw ? new TextDecoder().decode(raw) : null });
  });
  app.use(errorHandler(createLogger('error', true)));
  return app;
}

describe('a hook call body kept as bytes (jsonBody with keepBytes)', () => {
  const app = appWith(true);
  const text = '{"hook":"patient-view","context":{"patientId":"1"},"prefetch":{"patient":{"resourceType":"Patient"}}}';

  it('hands the bytes on and builds the body without its prefetch', async () => {
    const res = await request(app).post('/call').set('content-type', 'application/json').send(text);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ body: { hook: 'patient-view', context: { patientId: '1' } }, raw: text });
  });
  it('answers invalid JSON, inside the prefetch too, 400 as the whole parse does, with the line and column', async () => {
    for (const broken of [
      '{"hook":"patient-view",\n "prefetch":{"patient":{"resourceType":"Patient",}}}',
      '{"hook":"patient-view"',
      '{"hook":"patient-view"}}',
    ]) {
      const [kept, parsed] = await Promise.all(
        [app, appWith(false)].map((a) => request(a).post('/call').set('content-type', 'application/json').send(broken)),
      );
      expect(kept.status, broken).toBe(400);
      expect(kept.body, broken).toEqual(parsed.body);
    }
    const res = await request(app)
      .post('/call')
      .set('content-type', 'application/json')
      .send('{"hook":"patient-view",\n "prefetch":{"patient":{"resourceType":"Patient",}}}');
    expect(res.body.issue[0].diagnostics).toBe('the request body is not valid JSON (line 2, column 50)');
  });
  it('answers a charset as the whole parse does: utf-8 read as bytes, utf8 refused 415 in both', async () => {
    for (const charset of ['utf-8', 'UTF-8', 'utf8', 'latin1']) {
      const [kept, parsed] = await Promise.all(
        [app, appWith(false)].map((a) =>
          request(a).post('/call').set('content-type', `application/json; charset=${charset}`).send(text),
        ),
      );
      expect(kept.status, charset).toBe(parsed.status);
      if (parsed.status === 200) expect(kept.body.body, charset).toEqual({ ...parsed.body.body, prefetch: undefined });
      else expect(kept.body, charset).toEqual(parsed.body);
    }
  });
  it('reads an empty body as an empty object, as express.json does', async () => {
    const empty = await request(app).post('/call').set('content-type', 'application/json').send('');
    expect(empty.body).toEqual({ body: {}, raw: null });
  });
});

describe('a body that is JSON but not an object or array', () => {
  for (const keepBytes of [true, false]) {
    it(`is answered 400 saying so, not that it is not JSON (keepBytes ${keepBytes})`, async () => {
      const app = appWith(keepBytes);
      for (const text of ['null', ' "x" ', '12', 'true']) {
        const res = await request(app).post('/call').set('content-type', 'application/json').send(text);
        expect(res.status, text).toBe(400);
        expect(res.body.issue[0].diagnostics, text).toBe(
          'the request body must be a JSON object, not a JSON string, number, boolean or null',
        );
      }
      const broken = await request(app).post('/call').set('content-type', 'application/json').send('nul');
      expect(broken.body.issue[0].diagnostics).toMatch(/^the request body is not valid JSON/);
    });
  }
});

describe('JSON nested deeper than MAX_JSON_DEPTH', () => {
  const nested = (levels: number) =>
    `{"hook":"patient-view","prefetch":{"p":${'['.repeat(levels - 2)}${']'.repeat(levels - 2)}}}`;

  for (const keepBytes of [true, false]) {
    it(`is refused 400 before it is parsed, saying where (keepBytes ${keepBytes})`, async () => {
      const app = appWith(keepBytes);
      const ok = await request(app).post('/call').set('content-type', 'application/json').send(nested(MAX_JSON_DEPTH));
      expect(ok.status).toBe(200);
      for (const levels of [MAX_JSON_DEPTH + 1, 100_000]) {
        const res = await request(app).post('/call').set('content-type', 'application/json').send(nested(levels));
        expect(res.status, `${levels} levels`).toBe(400);
        expect(res.body.issue[0].diagnostics).toBe(
          `the request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels (line 1, column ${39 + MAX_JSON_DEPTH - 1})`,
        );
      }
    });
  }

  it('counts brackets inside strings as text, in a body of another charset too', async () => {
    const inString = `{"a":"${'['.repeat(1000)}\\"${'{'.repeat(1000)}"}`;
    expect(tooDeepAt(inString)).toBe(-1);
    const app = appWith(false);
    const utf16 = Buffer.from(nested(MAX_JSON_DEPTH + 1), 'utf16le');
    const res = await request(app)
      .post('/call')
      .set('content-type', 'application/json; charset=utf-16le')
      .serialize((body: Buffer) => body as unknown as string)
      .send(utf16);
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('is refused in every charset the parser decodes, UTF-32 and big-endian UTF-16 among them', async () => {
    const app = appWith(false);
    const text = nested(MAX_JSON_DEPTH + 1);
    const utf16be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    const utf32le = Buffer.alloc(text.length * 4);
    for (let i = 0; i < text.length; i++) utf32le.writeUInt32LE(text.charCodeAt(i), i * 4);
    for (const [charset, bytes] of [
      ['utf-16', utf16be],
      ['utf-32le', utf32le],
      ['utf-32', Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), utf32le])],
    ] as const) {
      const res = await request(app)
        .post('/call')
        .set('content-type', `application/json; charset=${charset}`)
        .serialize((body: Buffer) => body as unknown as string)
        .send(bytes);
      expect(res.status, charset).toBe(400);
      expect(res.body.issue[0].diagnostics, charset).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    }
  });
});
