/**
 * API.md §2 checked from outside, against real `tinycache node` processes over real sockets.
 */
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NodeProcess,
  rawExchange,
  type Reply,
  request,
  spawnNode,
} from '../testing/processes.ts';

let node: NodeProcess;
let base: string;

/** A node with small limits so every limit is easy to reach. */
beforeAll(async () => {
  node = await spawnNode([
    '--max-key-bytes',
    '16',
    '--max-value-bytes',
    '8KiB',
    '--compress-threshold',
    '1KiB',
    '--max-memory',
    '64KiB',
  ]);
  base = node.url;
});

afterAll(async () => {
  expect(await node.stop()).toBe(0);
});

const key = (name: string) => `${base}/v1/keys/${name}`;

function put(name: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  return request(key(name), { method: 'PUT', body, headers });
}

function expectError(reply: Reply, status: number, code: string): void {
  expect(reply.status).toBe(status);
  expect(reply.headers['content-type']).toBe('application/json');
  const body = reply.json() as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
}

async function expectValue(name: string, value: string): Promise<void> {
  const reply = await request(key(name));
  expect(reply.status).toBe(200);
  expect(reply.text()).toBe(value);
}

describe('PUT, GET, HEAD and DELETE', () => {
  it('answers 201 for a new key and 200 when replacing one', async () => {
    const created = await put('fruit', 'apple', { 'Content-Type': 'text/plain' });
    expect(created.status).toBe(201);
    expect(created.json()).toEqual({
      key: 'fruit',
      bytes: 5,
      storedBytes: 5,
      compressed: false,
      expiresAt: null,
    });
    const replaced = await put('fruit', 'pear', { 'Content-Type': 'text/plain' });
    expect(replaced.status).toBe(200);
    const got = await request(key('fruit'));
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toBe('text/plain');
    expect(got.text()).toBe('pear');
    expect(got.headers['x-ttl-ms']).toBeUndefined();
  });

  it('round-trips JSON values of every type exactly', async () => {
    const values = [
      '"text"',
      '42',
      '-1.5e3',
      'true',
      'false',
      'null',
      '{"a":[1,{"b":null}]}',
      '[]',
    ];
    for (const [i, json] of values.entries()) {
      const reply = await put(`json${i}`, json, { 'Content-Type': 'application/json' });
      expect(reply.status, json).toBe(201);
      const got = await request(key(`json${i}`));
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.text()).toBe(json);
    }
  });

  it('round-trips arbitrary binary bytes with their content type', async () => {
    const bytes = randomBytes(3000);
    expect((await put('blob', bytes, { 'Content-Type': 'image/png' })).status).toBe(201);
    const got = await request(key('blob'));
    expect(got.headers['content-type']).toBe('image/png');
    expect(got.body.equals(bytes)).toBe(true);
  });

  it('stores bytes as application/octet-stream when no Content-Type is given', async () => {
    await rawExchange(node.port, [
      'PUT /v1/keys/untyped HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
    ]);
    const got = await request(key('untyped'));
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.text()).toBe('abc');
  });

  it('HEAD answers as GET without a body', async () => {
    await put('headed', 'hello', { 'Content-Type': 'text/plain' });
    const head = await request(key('headed'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('5');
    expect(head.headers['content-type']).toBe('text/plain');
    expect(head.body.length).toBe(0);
    expect((await request(key('never-written'), { method: 'HEAD' })).status).toBe(404);
  });

  it('DELETE answers 204, then 404 once the key is gone', async () => {
    await put('doomed', 'x');
    expect((await request(key('doomed'), { method: 'DELETE' })).status).toBe(204);
    expectError(await request(key('doomed')), 404, 'not_found');
    expectError(await request(key('doomed'), { method: 'DELETE' }), 404, 'not_found');
  });

  it('a missing key is 404 not_found', async () => {
    expectError(await request(key('nobody')), 404, 'not_found');
  });
});

describe('keys', () => {
  it('treats %2F as part of one key, not a path separator', async () => {
    expect((await put('a%2Fb', 'slashed')).status).toBe(201);
    await expectValue('a%2Fb', 'slashed');
    expectError(await request(key('a/b')), 400, 'invalid_key');
  });

  it('decodes percent-encoded UTF-8 keys', async () => {
    expect((await put(encodeURIComponent('café ☕'), 'latte')).status).toBe(201);
    await expectValue(encodeURIComponent('café ☕'), 'latte');
  });

  it('an empty key is 400 invalid_key', async () => {
    expectError(await request(`${base}/v1/keys/`), 400, 'invalid_key');
    expectError(await request(`${base}/v1/keys`), 400, 'invalid_key');
  });

  it('malformed percent-encoding is 400 invalid_key and stores nothing', async () => {
    expectError(await put('bad%E0%A4%A', 'x'), 400, 'invalid_key');
    expectError(await put('bad%', 'x'), 400, 'invalid_key');
    const stats = (await request(`${base}/v1/stats`)).json() as { entries: number };
    const again = (await request(`${base}/v1/stats`)).json() as { entries: number };
    expect(again.entries).toBe(stats.entries);
  });

  it('counts a key in UTF-8 bytes, inclusive of the limit (16 here)', async () => {
    expect((await put('k'.repeat(16), 'ok')).status).toBe(201);
    expectError(await put('k'.repeat(17), 'no'), 414, 'key_too_long');
    // 8 × "é" is 16 bytes; 9 × is 18.
    expect((await put(encodeURIComponent('é'.repeat(8)), 'ok')).status).toBe(201);
    expectError(await put(encodeURIComponent('é'.repeat(9)), 'no'), 414, 'key_too_long');
    expectError(await request(key('k'.repeat(17))), 414, 'key_too_long');
  });
});

describe('TTL', () => {
  it('expires a key after ?ttl seconds, with X-TTL-Ms counting down', async () => {
    const before = Date.now();
    const reply = await put('brief?ttl=0.4', 'soon gone');
    expect(reply.status).toBe(201);
    const { expiresAt } = reply.json() as { expiresAt: number };
    expect(expiresAt).toBeGreaterThanOrEqual(before + 400);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 400);
    const got = await request(key('brief'));
    expect(got.status).toBe(200);
    const ttl = Number(got.headers['x-ttl-ms']);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(400);
    await new Promise((r) => setTimeout(r, 450));
    expectError(await request(key('brief')), 404, 'not_found');
  });

  it('accepts fractions and refuses bad TTLs, leaving the old value in place', async () => {
    await put('ttl-target', 'original');
    expect((await put('ttl-fraction?ttl=.25', 'x')).status).toBe(201);
    for (const bad of ['0', '-1', 'abc', '1e3', '', '0x10', 'Infinity', '999999999999']) {
      expectError(await put(`ttl-target?ttl=${bad}`, 'changed'), 400, 'invalid_ttl');
    }
    await expectValue('ttl-target', 'original');
  });

  it('a write without ttl clears an earlier TTL', async () => {
    await put('renewed?ttl=100', 'a');
    await put('renewed', 'b');
    const got = await request(key('renewed'));
    expect(got.headers['x-ttl-ms']).toBeUndefined();
  });
});

describe('limits and refused writes', () => {
  it('accepts a value of exactly max-value-bytes and refuses one byte more with 413', async () => {
    const limit = 8 * 1024;
    expect((await put('big', randomBytes(limit))).status).toBe(201);
    await put('kept', 'old');
    expectError(await put('kept', randomBytes(limit + 1)), 413, 'value_too_large');
    await expectValue('kept', 'old');
  });

  it('refuses an oversized chunked upload (no Content-Length) with 413', async () => {
    await put('chunky', 'old');
    const chunk = 'x'.repeat(4096);
    const answer = await rawExchange(node.port, [
      'PUT /v1/keys/chunky HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      ...Array.from({ length: 3 }, () => `${(4096).toString(16)}\r\n${chunk}\r\n`),
      '0\r\n\r\n',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toContain('"value_too_large"');
    await expectValue('chunky', 'old');
  });

  it('refuses 100-continue uploads that are too large before the body is sent', async () => {
    const answer = await rawExchange(node.port, [
      'PUT /v1/keys/expect HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).not.toContain('100 Continue');
  });

  it('refuses invalid JSON with 400 invalid_json and keeps the old value', async () => {
    await put('doc', '{"v":1}', { 'Content-Type': 'application/json' });
    expectError(
      await put('doc', '{"v":', { 'Content-Type': 'application/json' }),
      400,
      'invalid_json',
    );
    expectError(
      await put('doc', Buffer.from([0x22, 0xff, 0x22]), {
        'Content-Type': 'application/json; charset=utf-8',
      }),
      400,
      'invalid_json',
    );
    await expectValue('doc', '{"v":1}');
  });

  it('answers 405 with an Allow header for unsupported methods', async () => {
    const reply = await request(key('x'), { method: 'POST', body: 'x' });
    expectError(reply, 405, 'unsupported_method');
    expect(reply.headers.allow).toBe('GET, HEAD, PUT, DELETE');
    const stats = await request(`${base}/v1/stats`, { method: 'DELETE' });
    expectError(stats, 405, 'unsupported_method');
    expect(stats.headers.allow).toBe('GET, HEAD');
  });

  it('refuses a Content-Type over 255 characters with 400 and keeps the old value', async () => {
    await put('typed', 'old', { 'Content-Type': 'text/plain' });
    const long = `text/plain; x=${'y'.repeat(250)}`;
    expectError(await put('typed', 'new', { 'Content-Type': long }), 400, 'invalid_content_type');
    await expectValue('typed', 'old');
  });

  it('refuses an unknown Content-Encoding with 415', async () => {
    expectError(await put('enc', 'x', { 'Content-Encoding': 'br' }), 415, 'unsupported_encoding');
  });

  it('an unknown route is 404 with the JSON error shape', async () => {
    expectError(await request(`${base}/nope`), 404, 'not_found');
  });
});

describe('out of memory', () => {
  it('refuses a value that cannot fit even after evicting everything, changing nothing', async () => {
    const small = await spawnNode(['--max-memory', '4KiB', '--compress-threshold', '0']);
    try {
      const url = `${small.url}/v1/keys/`;
      await request(`${url}keep`, { method: 'PUT', body: 'safe' });
      const refused = await request(`${url}keep`, { method: 'PUT', body: randomBytes(5000) });
      expectError(refused, 507, 'out_of_memory');
      expect((await request(`${url}keep`)).text()).toBe('safe');
    } finally {
      await small.stop();
    }
  });
});

describe('eviction', () => {
  it('stays within max-memory by evicting least recently used keys', async () => {
    const lru = await spawnNode(['--max-memory', '16KiB', '--compress-threshold', '0']);
    try {
      const url = `${lru.url}/v1/keys/`;
      await request(`${url}hot`, { method: 'PUT', body: 'x'.repeat(500) });
      for (let i = 0; i < 100; i++) {
        await request(`${url}k${i}`, { method: 'PUT', body: randomBytes(500) });
        await request(`${url}hot`); // kept recently used
      }
      const stats = (await request(`${lru.url}/v1/stats`)).json() as Record<string, number>;
      expect(stats.memoryBytes).toBeLessThanOrEqual(16 * 1024);
      expect(stats.evictions).toBeGreaterThan(50);
      expect((await request(`${url}hot`)).status).toBe(200);
      expect((await request(`${url}k0`)).status).toBe(404);
      expect((await request(`${url}k99`)).status).toBe(200);
    } finally {
      await lru.stop();
    }
  });
});

describe('compression', () => {
  const doc = JSON.stringify(
    Array.from({ length: 60 }, (_, i) => ({ id: i, name: `user ${i}`, active: true })),
  );

  it('stores large compressible values gzip-compressed and serves them back exactly', async () => {
    const reply = await put('doc-big', doc, { 'Content-Type': 'application/json' });
    const meta = reply.json() as { bytes: number; storedBytes: number; compressed: boolean };
    expect(meta.compressed).toBe(true);
    expect(meta.bytes).toBe(Buffer.byteLength(doc));
    expect(meta.storedBytes).toBeLessThan(meta.bytes);

    const plain = await request(key('doc-big'));
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text()).toBe(doc);
    const head = await request(key('doc-big'), { method: 'HEAD' });
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(doc));

    const gz = await request(key('doc-big'), { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('Accept-Encoding');
    expect(Number(gz.headers['content-length'])).toBe(meta.storedBytes);
    expect(gunzipSync(gz.body).toString()).toBe(doc);
  });

  it('does not compress values below the threshold or ones gzip cannot shrink', async () => {
    const small = (await put('small', 'x'.repeat(100))).json() as { compressed: boolean };
    expect(small.compressed).toBe(false);
    const random = (await put('random', randomBytes(4000))).json() as { compressed: boolean };
    expect(random.compressed).toBe(false);
  });

  it('accepts request bodies sent with Content-Encoding: gzip', async () => {
    const reply = await put('gz-in', gzipSync(doc), {
      'Content-Type': 'application/json',
      'Content-Encoding': 'gzip',
    });
    expect(reply.status).toBe(201);
    expect((reply.json() as { bytes: number }).bytes).toBe(Buffer.byteLength(doc));
    await expectValue('gz-in', doc);
  });

  it('refuses a gzip body that inflates past max-value-bytes (no gzip bomb)', async () => {
    await put('bomb', 'old');
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024));
    expectError(await put('bomb', bomb, { 'Content-Encoding': 'gzip' }), 413, 'value_too_large');
    expectError(
      await put('bomb', 'not gzip at all', { 'Content-Encoding': 'gzip' }),
      400,
      'bad_request',
    );
    await expectValue('bomb', 'old');
  });
});

describe('stats, config and health', () => {
  it('GET /v1/stats reports the store', async () => {
    const stats = (await request(`${base}/v1/stats`)).json() as Record<string, unknown>;
    for (const field of [
      'entries',
      'memoryBytes',
      'maxMemoryBytes',
      'hits',
      'misses',
      'evictions',
      'expirations',
      'compressedEntries',
      'policy',
      'uptime',
    ]) {
      expect(stats, field).toHaveProperty(field);
    }
    expect(stats.maxMemoryBytes).toBe(64 * 1024);
    expect(stats.policy).toBe('lru');
  });

  it('PATCH /v1/config applies at once; lowering max memory evicts down to it', async () => {
    const own = await spawnNode(['--compress-threshold', '0']);
    try {
      for (let i = 0; i < 50; i++) {
        await request(`${own.url}/v1/keys/k${i}`, { method: 'PUT', body: randomBytes(1000) });
      }
      const patched = await request(`${own.url}/v1/config`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ maxMemoryBytes: 20_000, policy: 'wtinylfu', defaultTtlSeconds: 60 }),
      });
      expect(patched.status).toBe(200);
      expect(patched.json()).toMatchObject({
        maxMemoryBytes: 20_000,
        policy: 'wtinylfu',
        defaultTtlSeconds: 60,
      });
      const stats = (await request(`${own.url}/v1/stats`)).json() as Record<string, number>;
      expect(stats.memoryBytes).toBeLessThanOrEqual(20_000);
      expect(stats.evictions).toBeGreaterThan(0);
      const config = (await request(`${own.url}/v1/config`)).json();
      expect(config).toMatchObject({ maxMemoryBytes: 20_000, policy: 'wtinylfu' });
      // The default TTL now applies to writes that give none.
      await request(`${own.url}/v1/keys/late`, { method: 'PUT', body: 'x' });
      const late = await request(`${own.url}/v1/keys/late`);
      expect(Number(late.headers['x-ttl-ms'])).toBeGreaterThan(59_000);
    } finally {
      await own.stop();
    }
  });

  it('refuses a bad config with 400 invalid_config and changes nothing', async () => {
    const before = (await request(`${base}/v1/config`)).json();
    for (const patch of [
      { maxMemoryBytes: -1 },
      { policy: 'fifo' },
      { maxMemory: 1024 },
      { compressThresholdBytes: 1.5 },
      [],
    ]) {
      const reply = await request(`${base}/v1/config`, {
        method: 'PATCH',
        body: JSON.stringify(patch),
      });
      expectError(reply, 400, 'invalid_config');
    }
    expectError(
      await request(`${base}/v1/config`, { method: 'PATCH', body: '{' }),
      400,
      'invalid_json',
    );
    expect((await request(`${base}/v1/config`)).json()).toEqual(before);
  });

  it('GET /healthz is 200 ok', async () => {
    const health = await request(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok' });
  });
});

describe('pipelining', () => {
  const statuses = (answer: string) => [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);

  it('applies requests pipelined on one connection in the order they were sent', async () => {
    const big = JSON.stringify({ text: 'compress me '.repeat(500) }); // gzip takes a while
    const answer = await rawExchange(node.port, [
      `PUT /v1/keys/pp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n${big}` +
        'PUT /v1/keys/pp HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo' +
        'GET /v1/keys/pp HTTP/1.1\r\nHost: x\r\n\r\n' +
        'DELETE /v1/keys/pp HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /v1/keys/pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    expect(statuses(answer)).toEqual(['201', '200', '200', '204', '404']);
    expect(answer).toContain('\r\n\r\ntwo');
    expectError(await request(key('pp')), 404, 'not_found');
  });

  it('closes a connection that queues too many requests behind unfinished writes', async () => {
    const big = JSON.stringify({ text: 'compress me '.repeat(500) });
    const one = `PUT /v1/keys/flood HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n${big}`;
    const answer = await rawExchange(node.port, [one.repeat(400)], { waitMs: 5000 });
    expect(statuses(answer).length).toBeLessThan(400);
    expect((await request(`${base}/healthz`)).status).toBe(200);
  });

  it('a write waiting for its body holds up only its own connection', async () => {
    // The rest of this body never comes: that PUT stores nothing and is cut off.
    const stalled = rawExchange(
      node.port,
      ['PUT /v1/keys/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nfi'],
      { waitMs: 500 },
    );
    await put('slow', 'other');
    await expectValue('slow', 'other');
    expect(await stalled).toBe('');
    await expectValue('slow', 'other');
  });
});

describe('HTTP edge cases', () => {
  it('serves a request without a Host header', async () => {
    await put('hostless', 'here');
    const answer = await rawExchange(node.port, [
      'GET /v1/keys/hostless HTTP/1.1\r\nConnection: close\r\n\r\n',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer.endsWith('here')).toBe(true);
  });

  it('routes an absolute-form request target by its path', async () => {
    await put('absolute', 'yes');
    const answer = await rawExchange(node.port, [
      `GET http://127.0.0.1:${node.port}/v1/keys/absolute HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer.endsWith('yes')).toBe(true);
  });

  it('answers an unknown Expect with 417 as JSON', async () => {
    const answer = await rawExchange(node.port, [
      'PUT /v1/keys/tea HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 417/);
    expect(answer).toContain('"code":"expectation_failed"');
    expectError(await request(key('tea')), 404, 'not_found');
  });

  it('gives whole-millisecond expiry times, at least 1 ms ahead, for tiny TTLs', async () => {
    for (const ttl of ['0.0001', '0.00000001']) {
      const before = Date.now();
      const reply = await put(`tiny${ttl}?ttl=${ttl}`, 'x');
      expect(reply.status).toBe(201);
      const { expiresAt } = reply.json() as { expiresAt: number };
      expect(Number.isInteger(expiresAt)).toBe(true);
      expect(expiresAt).toBeGreaterThan(before);
    }
  });
});

describe('bad input never crashes the node', () => {
  it('answers another HTTP version with 400 bad_request as JSON', async () => {
    const answer = await rawExchange(node.port, [
      'GET /v1/keys/a HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain('"code":"bad_request"');
  });

  it('answers a malformed request line with 400 bad_request as JSON', async () => {
    const answer = await rawExchange(node.port, ['THIS IS NOT HTTP\r\n\r\n']);
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain('"code":"bad_request"');
  });

  it('answers oversized headers with 431 headers_too_large as JSON', async () => {
    const answer = await rawExchange(node.port, [
      `GET /v1/keys/x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`,
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
    expect(answer).toContain('"code":"headers_too_large"');
  });

  it('stores nothing from an upload cut off midway', async () => {
    await put('cut', 'whole');
    await rawExchange(
      node.port,
      ['PUT /v1/keys/cut HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n', 'y'.repeat(500)],
      { destroyAfterWrite: true },
    );
    await rawExchange(
      node.port,
      ['PUT /v1/keys/cut-new HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n', 'y'.repeat(500)],
      { destroyAfterWrite: true },
    );
    await expectValue('cut', 'whole');
    expectError(await request(key('cut-new')), 404, 'not_found');
  });

  it('is still healthy after all of the above', async () => {
    expect((await request(`${base}/healthz`)).status).toBe(200);
    expect(node.child.exitCode).toBeNull();
  });
});
