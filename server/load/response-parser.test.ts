import { describe, expect, it } from 'vitest';
import { ResponseParseError, ResponseParser } from './response-parser.ts';

interface Parsed {
  status: number;
  bodyBytes: number;
  keepAlive: boolean;
}

function parser(): { parser: ResponseParser; parsed: Parsed[] } {
  const parsed: Parsed[] = [];
  return {
    parsed,
    parser: new ResponseParser((status, bodyBytes, keepAlive) =>
      parsed.push({ status, bodyBytes, keepAlive }),
    ),
  };
}

const STREAM = [
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\r\nhello',
  'HTTP/1.1 404 Not Found\r\nCONTENT-LENGTH: 0\r\n\r\n',
  'HTTP/1.1 100 Continue\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '4;ext=1\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: yes\r\n\r\n',
  'HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n',
  'HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 3\r\n\r\nerr',
].join('');

const EXPECTED: Parsed[] = [
  { status: 200, bodyBytes: 5, keepAlive: true },
  { status: 404, bodyBytes: 0, keepAlive: true },
  { status: 200, bodyBytes: 23, keepAlive: true },
  { status: 204, bodyBytes: 0, keepAlive: true },
  { status: 500, bodyBytes: 3, keepAlive: false },
];

describe('HTTP/1.1 response parser', () => {
  it('reads Content-Length, chunked (with extensions and trailers), 1xx and 204 answers', () => {
    const { parser: p, parsed } = parser();
    p.execute(Buffer.from(STREAM));
    expect(parsed).toEqual(EXPECTED);
  });

  it('gives the same answers however the bytes are split into chunks', () => {
    const bytes = Buffer.from(STREAM);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { parser: p, parsed } = parser();
      p.execute(bytes.subarray(0, cut));
      p.execute(bytes.subarray(cut));
      expect(parsed).toEqual(EXPECTED);
    }
    const { parser: p, parsed } = parser();
    for (let i = 0; i < bytes.length; i++) p.execute(bytes.subarray(i, i + 1));
    expect(parsed).toEqual(EXPECTED);
  });

  it('ends a body without length at the close of the connection', () => {
    const { parser: p, parsed } = parser();
    p.execute(Buffer.from('HTTP/1.0 200 OK\r\n\r\nsome bytes'));
    expect(parsed).toEqual([]);
    expect(p.finish()).toBe(true);
    expect(parsed).toEqual([{ status: 200, bodyBytes: 10, keepAlive: false }]);
  });

  it('treats a close between answers as quiet and a close mid-answer as an error', () => {
    const idle = parser();
    expect(idle.parser.finish()).toBe(false);
    const cut = parser();
    cut.parser.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    expect(() => cut.parser.finish()).toThrow(ResponseParseError);
  });

  it('keeps the start of each body only when asked to (captureBytes), however it is split', () => {
    const bytes = Buffer.from(STREAM);
    for (const step of [1, 7, bytes.length]) {
      const bodies: (string | null)[] = [];
      const p = new ResponseParser((_status, _bytes, _keepAlive, body) =>
        bodies.push(body === null ? null : body.toString('latin1')),
      );
      p.captureBytes = 8;
      for (let i = 0; i < bytes.length; i += step) p.execute(bytes.subarray(i, i + step));
      // Bodies past 8 bytes are cut; the chunked one is de-chunked; 204 and empty bodies are ''.
      expect(bodies).toEqual(['hello', '', 'wikipedi', '', 'err']);
    }
    const bodies: unknown[] = [];
    new ResponseParser((_s, _b, _k, body) => bodies.push(body)).execute(bytes);
    expect(bodies).toEqual([null, null, null, null, null]); // captureBytes 0: nothing kept
  });

  it('refuses a malformed status line, length or chunk size', () => {
    for (const text of [
      'HTTX/1.1 200 OK\r\n\r\n',
      'HTTP/1.1 2x0 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ]) {
      expect(() => parser().parser.execute(Buffer.from(text)), text).toThrow(ResponseParseError);
    }
  });
});
