/**
 * An incremental HTTP/1.1 response parser for the load generator: fed whatever chunks the
 * socket delivers, it reports each complete response's status and body size, without copying
 * bodies or building header objects (RFC 9112 §6: message body length, §7.1: chunked coding).
 * Only the headers that frame the message are read: Content-Length, Transfer-Encoding and
 * Connection.
 */

export class ResponseParseError extends Error {}

/** `body` holds the first `captureBytes` of the body when capturing, else null. */
export type OnResponse = (
  status: number,
  bodyBytes: number,
  keepAlive: boolean,
  body: Buffer | null,
) => void;

const enum State {
  Head,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  BodyUntilClose,
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const HTTP_SLASH = Buffer.from('HTTP/');
/** Longest head (status line and headers), and longest chunk-size or trailer line. */
const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 8 * 1024;

export class ResponseParser {
  private state = State.Head;
  /** Bytes of an unfinished line or head, kept until the rest arrives. */
  private pending: Buffer | null = null;
  private status = 0;
  private keepAlive = true;
  private remaining = 0;
  private bodyBytes = 0;
  /** Bumped by reset(), so a callback that resets the parser stops the loop feeding it. */
  private generation = 0;
  /** The captured start of the current body (see captureBytes). */
  private captured: Buffer | null = null;
  private capturedBytes = 0;

  /**
   * Keep up to this many bytes of each body and pass them to onResponse (0: keep none, the
   * usual case). Read when a response's head arrives, so it can change between requests.
   */
  captureBytes = 0;

  constructor(private readonly onResponse: OnResponse) {}

  /** Throws ResponseParseError on a malformed response; the caller drops the connection. */
  execute(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const generation = this.generation;
    let pos = 0;
    while (pos < buf.length && generation === this.generation) {
      switch (this.state) {
        case State.Head: {
          const end = buf.indexOf(HEAD_END, pos);
          if (end === -1) {
            if (buf.length - pos > MAX_HEAD_BYTES) throw new ResponseParseError('head too large');
            this.pending = Buffer.from(buf.subarray(pos)); // a copy: the caller reuses buf
            return;
          }
          this.parseHead(buf, pos, end);
          pos = end + 4;
          break;
        }
        case State.BodyLength:
          pos = this.skipBody(buf, pos);
          if (this.remaining === 0) this.complete();
          break;
        case State.ChunkSize: {
          const end = buf.indexOf(CRLF, pos);
          if (end === -1) return this.keepLine(buf, pos);
          this.remaining = parseChunkSize(buf, pos, end);
          pos = end + 2;
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        case State.ChunkData:
          pos = this.skipBody(buf, pos);
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        case State.ChunkDataEnd: {
          if (buf.length - pos < 2) return this.keepLine(buf, pos);
          if (buf[pos] !== 13 || buf[pos + 1] !== 10) {
            throw new ResponseParseError('chunk not followed by CRLF');
          }
          pos += 2;
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const end = buf.indexOf(CRLF, pos);
          if (end === -1) return this.keepLine(buf, pos);
          const empty = end === pos;
          pos = end + 2;
          if (empty) this.complete();
          break;
        }
        case State.BodyUntilClose:
          this.capture(buf, pos, buf.length);
          this.bodyBytes += buf.length - pos;
          pos = buf.length;
          break;
      }
    }
  }

  /**
   * The connection closed. Returns true when that ended a response whose body runs until the
   * close (no Content-Length, not chunked); false when nothing was under way; throws when a
   * response was cut off.
   */
  finish(): boolean {
    if (this.state === State.BodyUntilClose) {
      this.complete();
      return true;
    }
    const idle = this.state === State.Head && this.pending === null;
    this.reset();
    if (!idle) throw new ResponseParseError('response cut off by close');
    return false;
  }

  /** Forgets any partial response (the connection is being replaced). */
  reset(): void {
    this.generation++;
    this.state = State.Head;
    this.pending = null;
  }

  /** Passes over up to `remaining` body bytes (bodies are counted, not kept). */
  private skipBody(buf: Buffer, pos: number): number {
    const take = Math.min(this.remaining, buf.length - pos);
    this.capture(buf, pos, pos + take);
    this.remaining -= take;
    this.bodyBytes += take;
    return pos + take;
  }

  private keepLine(buf: Buffer, pos: number): void {
    if (buf.length - pos > MAX_LINE_BYTES) throw new ResponseParseError('line too long');
    this.pending = Buffer.from(buf.subarray(pos)); // a copy: the caller reuses buf
  }

  private capture(buf: Buffer, from: number, to: number): void {
    const captured = this.captured;
    if (captured === null || this.capturedBytes >= captured.length) return;
    this.capturedBytes += buf.copy(captured, this.capturedBytes, from, to);
  }

  private complete(): void {
    this.state = State.Head;
    const body = this.captured?.subarray(0, this.capturedBytes) ?? null;
    this.captured = null;
    this.onResponse(this.status, this.bodyBytes, this.keepAlive, body);
  }

  /** Reads the status line and framing headers of the head in buf[start, end). */
  private parseHead(buf: Buffer, start: number, end: number): void {
    // "HTTP/1.1 200 OK": version at 0..7, status at 9..11
    if (end - start < 12 || !startsWith(buf, start, HTTP_SLASH) || buf[start + 8] !== 0x20) {
      throw new ResponseParseError('bad status line');
    }
    const status =
      digit(buf, start + 9) * 100 + digit(buf, start + 10) * 10 + digit(buf, start + 11);
    const http10 = buf[start + 7] === 0x30; // HTTP/1.0
    let keepAlive = !http10;
    let contentLength = -1;
    let chunked = false;

    let line = buf.indexOf(CRLF, start) + 2;
    while (line < end + 2) {
      const lineEnd = buf.indexOf(CRLF, line);
      const colon = buf.indexOf(0x3a, line);
      if (colon !== -1 && colon < lineEnd) {
        const nameLength = colon - line;
        const first = (buf[line] ?? 0) | 0x20;
        if (first === 0x63 /* c */ && nameLength === 14 && nameIs(buf, line, 'content-length')) {
          contentLength = parseDecimal(buf, colon + 1, lineEnd);
        } else if (first === 0x63 && nameLength === 10 && nameIs(buf, line, 'connection')) {
          const value = buf.toString('latin1', colon + 1, lineEnd).toLowerCase();
          if (value.includes('close')) keepAlive = false;
          else if (value.includes('keep-alive')) keepAlive = true;
        } else if (
          first === 0x74 /* t */ &&
          nameLength === 17 &&
          nameIs(buf, line, 'transfer-encoding')
        ) {
          chunked = buf
            .toString('latin1', colon + 1, lineEnd)
            .toLowerCase()
            .includes('chunked');
        }
      }
      line = lineEnd + 2;
    }

    this.status = status;
    this.keepAlive = keepAlive;
    this.bodyBytes = 0;
    this.capturedBytes = 0;
    this.captured = this.captureBytes > 0 ? Buffer.alloc(this.captureBytes) : null;
    if (status < 200) {
      // 1xx is an interim response; the real one follows (RFC 9110 §15.2).
      this.state = State.Head;
    } else if (status === 204 || status === 304) {
      this.complete();
    } else if (chunked) {
      this.state = State.ChunkSize;
    } else if (contentLength >= 0) {
      this.remaining = contentLength;
      if (contentLength === 0) this.complete();
      else this.state = State.BodyLength;
    } else {
      this.keepAlive = false;
      this.state = State.BodyUntilClose;
    }
  }
}

function startsWith(buf: Buffer, at: number, prefix: Buffer): boolean {
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

function digit(buf: Buffer, at: number): number {
  const d = (buf[at] ?? 0) - 0x30;
  if (d < 0 || d > 9) throw new ResponseParseError('bad status code');
  return d;
}

/** Case-insensitive match of an ASCII header name (given in lower case). */
function nameIs(buf: Buffer, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if (((buf[at + i] ?? 0) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function parseDecimal(buf: Buffer, from: number, to: number): number {
  let value = 0;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i] ?? 0;
    if (c === 0x20 || c === 0x09) continue;
    if (c < 0x30 || c > 0x39) throw new ResponseParseError('bad Content-Length');
    value = value * 10 + (c - 0x30);
    digits++;
  }
  if (digits === 0 || !Number.isSafeInteger(value)) {
    throw new ResponseParseError('bad Content-Length');
  }
  return value;
}

/** Hex digits up to the CRLF or a chunk extension (`;name=value`). */
function parseChunkSize(buf: Buffer, from: number, to: number): number {
  let value = 0;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = (buf[i] ?? 0) | 0x20;
    if (c === 0x3b /* ; */) break;
    if (c === 0x20 || c === 0x29 /* tab|0x20 */) continue;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0) throw new ResponseParseError('bad chunk size');
    value = value * 16 + d;
    digits++;
  }
  if (digits === 0 || !Number.isSafeInteger(value)) throw new ResponseParseError('bad chunk size');
  return value;
}
