/**
 * One keep-alive HTTP/1.1 connection of the load generator over a raw socket: requests are
 * written as prepared bytes and answers read by ResponseParser, one request in flight at a
 * time. node:http's client costs several times more CPU per request than the servers it is
 * meant to load (autocannon and wrk write their own clients for the same reason).
 *
 * The connection reports to its owner and decides nothing: the owner chooses what to send,
 * counts what came back and replaces connections that close.
 */
import { connect, type Socket } from 'node:net';
import { ResponseParseError, ResponseParser } from './response-parser.ts';

/** Shared by every connection: a read is parsed before the next one can land (see onread). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/** Enough of an error body for its code: `{"error":{"code":"value_too_large",…`. */
const CAPTURE_BYTES = 512;

export type RequestKind = 'get' | 'put' | 'path' | 'prefill';

export interface ConnectionOwner {
  onConnect(connection: HttpConnection): void;
  /** `body` is the start of the body for a request sent with `captureBody`, else null. */
  onResponse(
    connection: HttpConnection,
    status: number,
    bodyBytes: number,
    body: Buffer | null,
  ): void;
  /** The request in flight failed: the socket errored, closed or the answer was malformed. */
  onRequestError(connection: HttpConnection, kind: string): void;
  /** Connecting failed (e.g. ECONNREFUSED). */
  onConnectError(connection: HttpConnection, kind: string): void;
  /** The socket is gone, whatever the reason; called last, once. */
  onClose(connection: HttpConnection): void;
  onBytesRead(bytes: number): void;
}

export class HttpConnection {
  /** Set while a request is in flight. */
  busy = false;
  connected = false;
  /** Set when the server said `Connection: close`: answered, then replaced, never reused. */
  closing = false;
  kind: RequestKind = 'get';
  /** Latency runs from here: when the request went, or was due if it went late (open model), ms. */
  latencyStartMs = 0;
  sentMs = 0;
  /** When the connection last became free (connected, or its answer arrived), ms. */
  idleSinceMs = 0;
  /** When connecting began, ms (performance.now()). */
  readonly openedMs = performance.now();

  private readonly socket: Socket;
  private readonly parser: ResponseParser;
  private errorKind: string | null = null;
  private closed = false;

  constructor(
    host: string,
    port: number,
    private readonly owner: ConnectionOwner,
  ) {
    this.parser = new ResponseParser((status, bodyBytes, keepAlive, body) =>
      this.onParsed(status, bodyBytes, keepAlive, body),
    );
    this.socket = connect({
      host,
      port,
      // Reads land in one shared buffer, parsed at once: no Buffer and no stream event per read.
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes: number, buffer: Uint8Array) => {
          this.onData(buffer as Buffer, bytes);
          return true;
        },
      },
    });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.connected = true;
      this.idleSinceMs = performance.now();
      this.owner.onConnect(this);
    });
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      this.errorKind ??= error.code ?? 'socket_error';
    });
    this.socket.on('close', () => this.onSocketClose());
  }

  /**
   * Sends one request (prepared head, optional body); the owner has checked it is idle. With
   * `captureBody`, the first CAPTURE_BYTES of the answer's body come back in onResponse (to
   * read an error's code).
   */
  send(
    kind: RequestKind,
    latencyStartMs: number,
    nowMs: number,
    head: string,
    body?: Uint8Array,
    captureBody = false,
  ) {
    this.busy = true;
    this.kind = kind;
    this.latencyStartMs = latencyStartMs;
    this.sentMs = nowMs;
    this.parser.captureBytes = captureBody ? CAPTURE_BYTES : 0;
    if (body === undefined || body.length === 0) {
      this.socket.write(head, 'latin1');
    } else {
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    }
  }

  /** Sends prepared request bytes (the fixed-path mode writes the same buffer every time). */
  sendRaw(kind: RequestKind, latencyStartMs: number, nowMs: number, request: Uint8Array) {
    this.busy = true;
    this.kind = kind;
    this.latencyStartMs = latencyStartMs;
    this.sentMs = nowMs;
    this.parser.captureBytes = 0;
    this.socket.write(request);
  }

  /** Gives up on this connection, charging the request in flight (if any) with `kind`. */
  fail(kind: string): void {
    this.errorKind = kind;
    this.socket.destroy();
  }

  /** Closes quietly (stopping, or fewer connections wanted). */
  close(): void {
    this.errorKind ??= 'closed';
    this.socket.destroy();
  }

  private onData(buffer: Buffer, bytes: number): void {
    this.owner.onBytesRead(bytes);
    try {
      this.parser.execute(buffer.subarray(0, bytes));
    } catch (error) {
      if (!(error instanceof ResponseParseError)) throw error;
      this.fail('bad_response');
    }
  }

  private onParsed(
    status: number,
    bodyBytes: number,
    keepAlive: boolean,
    body: Buffer | null,
  ): void {
    if (!this.busy) {
      // An answer nobody asked for (e.g. a 408 before closing an idle connection).
      this.fail('unexpected_response');
      return;
    }
    this.busy = false;
    this.idleSinceMs = performance.now();
    if (!keepAlive) {
      // Answer counted, then replaced by a fresh connection; not an error.
      this.closing = true;
      this.parser.reset();
      this.socket.destroy();
    }
    this.owner.onResponse(this, status, bodyBytes, body);
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.busy) {
      let kind = this.errorKind;
      try {
        // A body that runs until the close is complete now; anything else in flight is lost.
        kind = this.parser.finish() ? null : (kind ?? 'ECONNRESET');
      } catch {
        kind ??= 'ECONNRESET';
      }
      if (kind !== null) {
        this.busy = false;
        this.owner.onRequestError(this, kind === 'closed' ? 'ECONNRESET' : kind);
      }
    } else if (!this.connected && this.errorKind !== 'closed') {
      this.owner.onConnectError(this, this.errorKind ?? 'ECONNRESET');
    }
    this.owner.onClose(this);
  }
}
