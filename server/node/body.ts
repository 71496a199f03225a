/**
 * Reading request bodies with a limit. A body is only used once it has arrived whole: an
 * upload cut off midway, or one that passes the limit, stores nothing.
 */
import type { IncomingMessage } from 'node:http';

export type BodyResult =
  | { readonly kind: 'ok'; readonly body: Buffer }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'aborted' };

/** Collects the body of `req`, giving up as soon as it passes `maxBytes`. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  // A request queued behind others on its connection may have lost its client meanwhile;
  // once destroyed, its body can no longer be read, whole or not.
  if (req.destroyed) return Promise.resolve({ kind: 'aborted' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const settle = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      length += chunk.length;
      if (length > maxBytes) {
        chunks.length = 0;
        // The caller decides what happens to the rest (server.ts discards a bounded amount).
        req.pause();
        settle({ kind: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      settle({
        kind: 'ok',
        body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length),
      });
    };
    const onAbort = (): void => settle({ kind: 'aborted' });
    // After 'end' this is a no-op (settled); before it, the body will never be whole.
    const onClose = (): void => settle({ kind: 'aborted' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onClose);
  });
}

/**
 * The chunks joined into a buffer of exactly `length` bytes that owns its memory. Chunks from
 * the socket are views into larger read buffers, and small Buffer allocations share an 8 KiB
 * pool: storing either would keep far more memory alive than the engine accounts for.
 */
export function ownedCopy(chunks: readonly Uint8Array[], length: number): Buffer {
  const out = Buffer.allocUnsafeSlow(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** `bytes` itself when it owns exactly its memory, else an owned copy (see ownedCopy). */
export function owned(bytes: Buffer): Buffer {
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length
    ? bytes
    : ownedCopy([bytes], bytes.length);
}
