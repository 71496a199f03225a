import { describe, expect, it } from 'vitest';
import { RegisterChecker, versionedValue, versionOf } from './register.ts';

describe('RegisterChecker', () => {
  it('carries a version in the first bytes of a value of the asked size', () => {
    const value = versionedValue(2 ** 40 + 12_345, 64);
    expect(value.bytes.length).toBe(64);
    expect(versionOf(value)).toBe(2 ** 40 + 12_345);
  });

  it('passes a read of the latest acknowledged write, and a read concurrent with a newer one', () => {
    const c = new RegisterChecker(4, 16);
    const v1 = c.valueToWrite(0, 0);
    c.setAcknowledged(0, v1, 0, 10);
    const v2 = c.valueToWrite(0, 20); // sent at 20, acknowledged at 40
    const during = c.readIssued(0, 30);
    c.setAcknowledged(0, v2, 20, 40);
    c.readReturned(0, during, v1, 35); // concurrent with v2's write: either answer is right
    c.readReturned(0, c.readIssued(0, 50), v2, 55);
    expect(c.summary()).toMatchObject({ readsChecked: 2, violations: 0 });
  });

  it('flags a read of a value overwritten before the read began', () => {
    const c = new RegisterChecker(4, 16);
    const v1 = c.valueToWrite(1, 0);
    c.setAcknowledged(1, v1, 0, 10);
    const v2 = c.valueToWrite(1, 20);
    c.setAcknowledged(1, v2, 20, 30);
    c.readReturned(1, c.readIssued(1, 40), v1, 45);
    const s = c.summary();
    expect(s).toMatchObject({ violations: 1, stale: 1, resurrected: 0 });
    expect(s.examples[0]).toMatchObject({ kind: 'stale', keyId: 1, overwrittenAtUs: 20 });
  });

  it('flags a deleted key that comes back, but not one written again after the delete', () => {
    const c = new RegisterChecker(4, 16);
    const v1 = c.valueToWrite(2, 0);
    c.setAcknowledged(2, v1, 0, 10);
    c.deleteAcknowledged(2, 20, 30);
    c.readReturned(2, c.readIssued(2, 40), v1, 45);
    const v2 = c.valueToWrite(2, 50);
    c.setAcknowledged(2, v2, 50, 60);
    c.readReturned(2, c.readIssued(2, 70), v2, 75);
    expect(c.summary()).toMatchObject({ violations: 1, resurrected: 1, stale: 0 });
  });

  it("flags another key's value, and a version never written", () => {
    const c = new RegisterChecker(4, 16);
    const v1 = c.valueToWrite(0, 0);
    c.setAcknowledged(0, v1, 0, 10);
    c.readReturned(3, c.readIssued(3, 20), v1, 25);
    c.readReturned(3, c.readIssued(3, 30), versionedValue(999, 16), 35);
    expect(c.summary()).toMatchObject({ violations: 2, foreign: 2 });
  });

  it('counts a prefilled value as written and acknowledged at the start', () => {
    const c = new RegisterChecker(4, 16);
    const v0 = c.prefilled(0, 0);
    c.readReturned(0, c.readIssued(0, 5), v0, 6);
    const v1 = c.valueToWrite(0, 10);
    c.setAcknowledged(0, v1, 10, 20);
    c.readReturned(0, c.readIssued(0, 30), v0, 35);
    expect(c.summary()).toMatchObject({ readsChecked: 2, stale: 1, writesAcknowledged: 1 });
  });
});
