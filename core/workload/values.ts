/**
 * Values for generated writes: exactly N bytes, either compressible (JSON records with repeated
 * field names and small vocabularies, about what an application caches) or incompressible
 * (random bytes), drawn from an injected Rng so a seed replays them.
 */
import type { Rng } from '../random.ts';

export type ValueContentType = 'application/json' | 'application/octet-stream';

export interface GeneratedValue {
  readonly bytes: Uint8Array;
  /** JSON for compressible values (they parse as JSON), octet-stream for random bytes. */
  readonly contentType: ValueContentType;
}

export function generateValue(sizeBytes: number, rng: Rng, compressible: boolean): GeneratedValue {
  if (!Number.isInteger(sizeBytes) || sizeBytes < 0) {
    throw new RangeError(`sizeBytes must be a whole number >= 0 (got ${sizeBytes}).`);
  }
  if (compressible && sizeBytes > 0) {
    return { bytes: asciiBytes(jsonText(sizeBytes, rng)), contentType: 'application/json' };
  }
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i += 4) {
    let word = rng.nextU32();
    for (let j = i; j < Math.min(i + 4, sizeBytes); j++) {
      bytes[j] = word & 0xff;
      word >>>= 8;
    }
  }
  return { bytes, contentType: 'application/octet-stream' };
}

const NAMES = ['ada', 'grace', 'linus', 'barbara', 'ken', 'margaret', 'dennis', 'frances'];
const TAGS = ['red', 'green', 'blue', 'admin', 'beta', 'eu', 'us'];

/** A JSON document of exactly `size` ASCII bytes (padded with spaces, which JSON allows). */
function jsonText(size: number, rng: Rng): string {
  if (size === 1) return String(rng.nextInt(10));
  let text = '[';
  for (let id = 1; ; id++) {
    const record =
      `{"id":${id},"name":"${pick(NAMES, rng)}","active":${rng.nextInt(2) === 1},` +
      `"score":${rng.nextInt(1000)},"tags":["${pick(TAGS, rng)}","${pick(TAGS, rng)}"]}`;
    const candidate = id === 1 ? text + record : `${text},${record}`;
    if (candidate.length + 1 > size) break;
    text = candidate;
  }
  if (text.length === 1) {
    // Too small for one record: a JSON string of repeated letters.
    return `"${'x'.repeat(size - 2)}"`;
  }
  text += ']';
  return text + ' '.repeat(size - text.length);
}

function pick<T>(items: readonly T[], rng: Rng): T {
  return items[rng.nextInt(items.length)] as T;
}

function asciiBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
