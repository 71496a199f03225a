import { describe, expect, it } from 'vitest';
import { STAMP_BYTES, WriteLedger } from './ledger.ts';

function stamped(ledger: WriteLedger, n: number): Uint8Array {
  const value = new Uint8Array(STAMP_BYTES + 8).fill(120);
  ledger.stamp(n, value);
  return value;
}

describe('WriteLedger', () => {
  it('reads its stamps back, and no other ledger’s', () => {
    const ledger = new WriteLedger('ab12');
    const n = ledger.sent();
    expect(ledger.stampOf(stamped(ledger, n))).toBe(n);
    expect(new WriteLedger('zz99').stampOf(stamped(ledger, n))).toBeNull();
    expect(ledger.stampOf(new Uint8Array(4))).toBeNull();
    expect(() => new WriteLedger('ABCD')).toThrow(RangeError);
  });

  it('sequential writes: the latest acknowledged or newer is ok, an older one is lost, absent is missing', () => {
    const ledger = new WriteLedger('t001');
    const a = ledger.sent();
    ledger.acked(7, a);
    const b = ledger.sent();
    ledger.acked(7, b);
    const expected = ledger.expectation(7)!;
    expect(expected).toEqual({ acked: b, floor: b });
    expect(ledger.classify(expected, stamped(ledger, b))).toBe('ok');
    const c = ledger.sent(); // in flight: may have taken effect already
    expect(ledger.classify(expected, stamped(ledger, c))).toBe('ok');
    expect(ledger.classify(expected, stamped(ledger, a))).toBe('lost');
    expect(ledger.classify(expected, new TextEncoder().encode('an older value, unstamped'))).toBe(
      'lost',
    );
    expect(ledger.classify(expected, null)).toBe('missing');
    expect(ledger.expectation(8)).toBeUndefined();
    expect(ledger.keys).toEqual([7]);
  });

  it('overlapping writes: one in flight when the acknowledged one was sent may win', () => {
    const ledger = new WriteLedger('t002');
    const early = ledger.sent(); // in flight...
    const late = ledger.sent();
    ledger.acked(1, late); // ...when late was sent and acknowledged
    ledger.acked(1, early); // acknowledged after: does not lower the expectation
    const expected = ledger.expectation(1)!;
    expect(expected).toEqual({ acked: late, floor: early });
    expect(ledger.classify(expected, stamped(ledger, early))).toBe('ok');
    // A write over before `late` was sent is not.
    const ledger2 = new WriteLedger('t003');
    const done = ledger2.sent();
    ledger2.failed(done);
    const x = ledger2.sent();
    ledger2.acked(1, x);
    expect(ledger2.classify(ledger2.expectation(1)!, stamped(ledger2, done))).toBe('lost');
  });

  it('a write given up on no longer holds the floor down', () => {
    const ledger = new WriteLedger('t004');
    const abandoned = ledger.sent();
    ledger.failed(abandoned);
    const a = ledger.sent();
    ledger.acked(2, a);
    expect(ledger.expectation(2)).toEqual({ acked: a, floor: a });
  });
});
