import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrequencySketch, hashKey } from './sketch.ts';

describe('FrequencySketch', () => {
  it('never counts a key below its true count, up to the cap of 15 (count-min)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(200), { maxLength: 300, size: 'max' }), (keys) => {
        const sketch = new FrequencySketch(512); // sample size 5120: no aging in this test
        const counts = new Map<number, number>();
        for (const k of keys) {
          sketch.increment(hashKey(`k${k}`));
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        for (const [k, count] of counts) {
          expect(sketch.frequency(hashKey(`k${k}`))).toBeGreaterThanOrEqual(Math.min(count, 15));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('estimates an unseen key at or near zero when the sketch is not crowded', () => {
    const sketch = new FrequencySketch(1024);
    for (let i = 0; i < 100; i++) sketch.increment(hashKey(`seen${i}`));
    let overcounted = 0;
    for (let i = 0; i < 1000; i++) if (sketch.frequency(hashKey(`unseen${i}`)) > 0) overcounted++;
    expect(overcounted).toBeLessThan(10);
  });

  it('saturates a counter at 15', () => {
    const sketch = new FrequencySketch();
    const h = hashKey('hot');
    for (let i = 0; i < 100; i++) sketch.increment(h);
    expect(sketch.frequency(h)).toBe(15);
  });

  it('halves every count after sampleSize (10x its capacity) increments: old popularity fades', () => {
    const sketch = new FrequencySketch(16); // sample size 160
    const hot = hashKey('hot');
    for (let i = 0; i < 12; i++) sketch.increment(hot);
    expect(sketch.frequency(hot)).toBe(12);
    // 147 more increments of distinct keys bring the sample to 159: no aging yet.
    for (let i = 0; i < 147; i++) sketch.increment(hashKey(`cold${i}`));
    expect(sketch.frequency(hot)).toBeGreaterThanOrEqual(12);
    sketch.increment(hashKey('one more'));
    expect(sketch.frequency(hot)).toBeGreaterThanOrEqual(6);
    expect(sketch.frequency(hot)).toBeLessThanOrEqual(8);
  });

  it('keeps every estimate when it grows', () => {
    const sketch = new FrequencySketch(16);
    const keys = Array.from({ length: 40 }, (_, i) => hashKey(`k${i}`));
    keys.forEach((h, i) => {
      for (let n = 0; n < i % 5; n++) sketch.increment(h);
    });
    const before = keys.map((h) => sketch.frequency(h));
    sketch.ensureCapacity(1000);
    expect(sketch.sizedFor).toBe(1024);
    expect(keys.map((h) => sketch.frequency(h))).toEqual(before);
  });

  it('hashes keys deterministically, with few collisions among similar keys', () => {
    expect(hashKey('key-00000001')).toBe(hashKey('key-00000001'));
    const hashes = new Set<number>();
    for (let i = 0; i < 100_000; i++) hashes.add(hashKey(`key-${String(i).padStart(8, '0')}`));
    expect(hashes.size).toBeGreaterThan(99_990);
  });
});
