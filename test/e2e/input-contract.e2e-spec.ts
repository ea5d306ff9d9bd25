import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import * as zlib from 'node:zlib';
import { bootApp, eventually, http, Json, TestApp } from './support/embedded-app';

/** The raw bytes of a request, and the raw answer, for what fetch will not send (bad headers, huge lines). */
function rawRequest(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

const jsonOf = (raw: string): { status: number; body: { error: { code: string; message: string } } } => ({
  status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]),
  body: JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } },
});

describe('the input contract over HTTP', () => {
  let app: TestApp;
  const post = (body: string | Buffer, headers: Record<string, string> = {}): Promise<Json> =>
    http(`${app.url}/audit/events`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const visible = (id: string): Promise<Json> =>
    eventually(
      async () => {
        const r = await http(`${app.url}/audit/events/${id}`);
        return r.status === 200 ? r : undefined;
      },
      15_000,
      `event ${id}`,
    );

  beforeAll(async () => {
    app = await bootApp({ AUDIT_SELF_AUDIT_READS: 'false', AUDIT_BODY_LIMIT_BYTES: String(1024 * 1024) });
  });

  afterAll(async () => {
    await app.close();
  });

  describe('strings the store cannot hold', () => {
    it.each([
      ['/description', '{"event_type":"login_failed","description":"a \\ud800"}'],
      ['/session_id', '{"event_type":"login_failed","session_id":"\\udc00x"}'],
      ['/user_agent', '{"event_type":"login_failed","user_agent":"ua\\udbff"}'],
      ['/metadata/k', '{"event_type":"login_failed","metadata":{"k":"\\ud800"}}'],
      ['/metadata/a/b/0', '{"event_type":"login_failed","metadata":{"a":{"b":["\\ud83d"]}}}'],
      ['/metadata/esc', '{"event_type":"login_failed","metadata":{"esc":"\\u001b[31mred"}}'],
    ])('should refuse a bad string at %s with a 400, and the store should go on storing', async (field, body) => {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
      const ok = await post(JSON.stringify({ event_type: 'login_failed', description: `after ${field}` }));
      expect(ok.status).toBe(201);
      const stored = await visible(ok.body.id);
      expect(stored.body.description).toBe(`after ${field}`);
    });

    it('should store noncharacters, bidi marks and pairs byte for byte', async () => {
      const text = 'x \uffff\ufffe\ufdd0 \u202e\u200f\u2066 \ud83d\ude00 \u2028';
      const r = await post(JSON.stringify({ event_type: 'login_failed', description: text, metadata: { k: text, a: [text] } }));
      expect(r.status).toBe(201);
      const stored = await visible(r.body.id);
      expect(stored.body.description).toBe(text);
      expect(stored.body.metadata).toEqual({ k: text, a: [text] });
    });
  });

  it('should refuse metadata nested 5000 levels with a 400, alone or in a batch, not a 500', async () => {
    const deep = '{"event_type":"login_failed","metadata":' + '{"a":'.repeat(5000) + '1' + '}'.repeat(5001);
    for (const body of [deep, `[{"event_type":"login_failed"},${deep}]`]) {
      const r = await post(body);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('invalid_json');
      expect(r.body.error.message).toMatch(/nested deeper than 64 levels/);
    }
    const ndjson = await post(`{"event_type":"login_failed"}\n${deep}\n`, { 'content-type': 'application/x-ndjson' });
    expect(ndjson.status).toBe(400);
    expect(ndjson.body.error.message).toMatch(/line 2: .*nested deeper/);
  });

  it('should refuse a duplicated key with a 400 naming its path, and store nothing of the body', async () => {
    const marker = randomUUID();
    const r = await post(`[{"event_type":"login_failed","session_id":"${marker}"},{"event_type":"login_failed","metadata":{"k":1,"k":2}}]`);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_json');
    expect(r.body.error.details[0].field).toBe('/1/metadata/k');
    const top = await post('{"event_type":"login_failed","event_type":"logout"}');
    expect(top.status).toBe(400);
    expect(top.body.error.details[0].field).toBe('/event_type');
    // The body was refused whole: the first, valid event is not stored either.
    const ok = await post(JSON.stringify({ event_type: 'login_failed', session_id: `${marker}-after` }));
    await visible(ok.body.id);
    const search = await http(`${app.url}/audit/events?session_id=${marker}`);
    expect(search.body.total).toBe(0);
  });

  it('should refuse a tenant_id in the body: the tenant comes from the API key', async () => {
    const r = await post(JSON.stringify({ event_type: 'login_failed', tenant_id: 'other' }));
    expect(r.status).toBe(400);
    expect(r.body.error.details).toEqual([
      { field: '/tenant_id', message: 'must not be set over HTTP: the tenant comes from the API key' },
    ]);
  });

  describe('encodings', () => {
    const event = (tag: string): Buffer => Buffer.from(JSON.stringify({ event_type: 'login_failed', description: `encoded ${tag} é😀` }));
    const codecs: Array<[string, (b: Buffer) => Buffer]> = [
      ['gzip', (b) => zlib.gzipSync(b)],
      ['deflate', (b) => zlib.deflateSync(b)],
      ['br', (b) => zlib.brotliCompressSync(b)],
    ];
    const zstd = (zlib as unknown as { zstdCompressSync?: (b: Buffer) => Buffer }).zstdCompressSync;
    if (zstd) codecs.push(['zstd', (b) => zstd(b)]);

    it.each(codecs)('should accept a %s body', async (encoding, compress) => {
      const r = await post(compress(event(encoding)), { 'content-encoding': encoding });
      expect(r.status).toBe(201);
      expect((await visible(r.body.id)).body.description).toBe(`encoded ${encoding} é😀`);
    });

    it('should stop inflating past the body limit with a 413 (a zip bomb)', async () => {
      const bomb = zlib.gzipSync(
        Buffer.concat([
          Buffer.from('{"event_type":"login_failed","description":"'),
          Buffer.alloc(64 * 1024 * 1024, 0x61),
          Buffer.from('"}'),
        ]),
      );
      expect(bomb.length).toBeLessThan(100 * 1024);
      const started = Date.now();
      const r = await post(bomb, { 'content-encoding': 'gzip' });
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe('payload_too_large');
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('should say what is wrong with a corrupt or unknown encoding', async () => {
      const corrupt = await post(Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
      expect(corrupt.status).toBe(400);
      expect(corrupt.body.error.message).toMatch(/not valid gzip data/);
      const unknown = await post(event('x'), { 'content-encoding': 'compress' });
      expect(unknown.status).toBe(415);
      expect(unknown.body.error.message).toMatch(/unsupported Content-Encoding 'compress'/);
      // A request whose body nobody reads (a GET, a refused content type) must not take the process down.
      const get = await http(`${app.url}/audit/events?limit=1`, { headers: { 'content-encoding': 'gzip' } });
      expect(get.status).toBe(200);
      const untyped = await http(`${app.url}/audit/events`, {
        method: 'POST',
        body: 'not gzip',
        headers: { 'content-encoding': 'gzip', 'content-type': 'application/xml' },
      });
      expect(untyped.status).toBe(415);
      expect((await http(`${app.url}/health/live`)).status).toBe(200);
    });

    it('should refuse a body that is not UTF-8 with a 400 that says so', async () => {
      const r = await post(
        Buffer.concat([Buffer.from('{"event_type":"login_failed","description":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
      );
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(/not valid UTF-8/);
    });
  });

  describe('errors before a route runs use the envelope', () => {
    it('should answer 431 for oversized headers', async () => {
      const raw = await rawRequest(app.url, `GET /audit/events HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      const r = jsonOf(raw);
      expect(r.status).toBe(431);
      expect(r.body.error.code).toBe('headers_too_large');
    });

    it('should answer 400 for a request that is not HTTP', async () => {
      const r = jsonOf(await rawRequest(app.url, `GET /audit/events HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`));
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('bad_request');
    });

    it('should answer 414 for a path parameter too long, and 400 for a bad percent-encoding', async () => {
      const long = await http(`${app.url}/audit/events/${'a'.repeat(200)}`);
      expect(long.status).toBe(414);
      expect(long.body.error.code).toBe('uri_too_long');
      const bad = await http(`${app.url}/audit/events/%E0%A4%A`);
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('bad_request');
    });
  });

  it('should accept a date alone as start and end of a search', async () => {
    const r = await http(`${app.url}/audit/events?start=2025-01-01&end=2030-01-01`);
    expect(r.status).toBe(200);
    expect(r.body.total).toBeGreaterThan(0);
  });
});
