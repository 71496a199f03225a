import { describe, expect, it } from 'vitest';
import { SingleFlight } from './singleflight.ts';

describe('SingleFlight', () => {
  it('makes concurrent calls for one key share one load', async () => {
    const flight = new SingleFlight<string>();
    let loads = 0;
    let release!: (value: string) => void;
    const load = () => {
      loads++;
      return new Promise<string>((resolve) => (release = resolve));
    };
    const answers = Promise.all([1, 2, 3].map(() => flight.do('k', load)));
    expect(flight.size).toBe(1);
    release('v');
    expect(await answers).toEqual(['v', 'v', 'v']);
    expect(loads).toBe(1);
  });

  it('loads again once the call is over, and keeps keys apart', async () => {
    const flight = new SingleFlight<number>();
    let loads = 0;
    const load = async () => ++loads;
    expect(await flight.do('a', load)).toBe(1);
    expect(await flight.do('a', load)).toBe(2);
    expect(await Promise.all([flight.do('b', load), flight.do('c', load)])).toEqual([3, 4]);
    expect(flight.size).toBe(0);
  });

  it('gives every waiter the failure, and forgets it', async () => {
    const flight = new SingleFlight<number>();
    const failing = () => Promise.reject(new Error('down'));
    const results = await Promise.allSettled([flight.do('k', failing), flight.do('k', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await flight.do('k', async () => 7)).toBe(7);
  });
});
