/**
 * gzip for large values (Level 4). Compression lives here, at the edge, so core/ stays pure:
 * the engine only stores bytes and a `compressed` flag.
 */
import { promisify } from 'node:util';
import { constants, gunzip, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/**
 * Compresses `raw` when it is at least `thresholdBytes` long and gzip makes it smaller.
 * Resolves to the gzip bytes, or null to store the value as it is; returns null at once when
 * the value is below the threshold, so a small write does not wait a tick for nothing. Runs
 * on libuv's thread pool, so a 1 MiB value does not stall other requests.
 */
export function maybeCompress(raw: Buffer, thresholdBytes: number): Promise<Buffer | null> | null {
  if (thresholdBytes <= 0 || raw.length < thresholdBytes) return null;
  return gzipAsync(raw, { level: constants.Z_DEFAULT_COMPRESSION }).then((packed) =>
    packed.length < raw.length ? packed : null,
  );
}

/** Thrown when inflating would pass the limit: the value (or a gzip bomb) is too large. */
export class InflateLimitError extends Error {}

/**
 * Inflates gzip bytes, stopping as soon as the output would pass `maxBytes`, so a small
 * request cannot expand into gigabytes. Throws InflateLimitError past the limit, and zlib's
 * error for bytes that are not gzip.
 */
export async function inflate(packed: Uint8Array, maxBytes: number): Promise<Buffer> {
  try {
    return await gunzipAsync(packed, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new InflateLimitError(`inflated body passes ${maxBytes} bytes`);
    }
    throw error;
  }
}

/**
 * True when an Accept-Encoding header accepts gzip (RFC 9110 §12.5.3): `gzip` or `*`, with
 * a q-value above zero.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined || header === '') return false;
  let wildcard = false;
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (name === 'gzip' || name === 'x-gzip') return weight > 0;
    if (name === '*') wildcard = weight > 0;
  }
  return wildcard;
}
