/**
 * Seeded randomness for the simulator. One seed decides a whole run (as in TigerBeetle's
 * VOPR); each component draws from its own stream, derived from the seed and the stream's
 * name, so a draw added in one (a new fault, a second network link) does not shift what any
 * other draws. The generator itself is core's sfc32 (`createRng`); this only names streams.
 */
import { createRng, type Rng } from '../core/random.ts';
import { TraceHash } from './trace.ts';

/**
 * The seed of stream `name` under `seed` (any safe integer): FNV-1a (the trace's hash) over
 * the seed and the name's UTF-16 code units, then murmur3's finaliser so that names differing
 * in one character give unrelated seeds.
 */
export function streamSeed(seed: number, name: string): number {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`A seed must be a whole number (got ${seed}).`);
  }
  const hash = new TraceHash();
  hash.addInteger(seed);
  for (let i = 0; i < name.length; i++) hash.addWord(name.charCodeAt(i));
  let h = hash.value;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** An independent generator for stream `name` (e.g. `network/a/b`, `workload/client-3/keys`). */
export function streamRng(seed: number, name: string): Rng {
  return createRng(streamSeed(seed, name));
}
