import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryQueue } from './expiry.ts';

describe('ExpiryQueue', () => {
  it('always offers the earliest expiry, through adds, removals and growth', () => {
    const op = fc.oneof(
      fc.record({ add: fc.nat(63), time: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ remove: fc.nat(63) }),
      fc.record({ pop: fc.constant(true) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200, size: 'max' }), (ops) => {
        let capacity = 2;
        const queue = new ExpiryQueue(capacity);
        const model = new Map<number, number>();
        for (const o of ops) {
          if ('add' in o) {
            if (model.has(o.add)) continue; // a slot is in the heap at most once
            while (o.add >= capacity) queue.resize((capacity *= 2));
            queue.add(o.add, o.time);
            model.set(o.add, o.time);
          } else if ('remove' in o) {
            if (o.remove < capacity) queue.remove(o.remove);
            model.delete(o.remove);
          } else if (model.size > 0) {
            const slot = queue.peekSlot();
            expect(model.get(slot)).toBe(Math.min(...model.values()));
            queue.remove(slot);
            model.delete(slot);
          }
          const earliest = model.size === 0 ? Infinity : Math.min(...model.values());
          let membersAgree = true;
          for (let s = 0; s < capacity; s++) membersAgree &&= queue.has(s) === model.has(s);
          if (queue.size !== model.size || queue.peekTime() !== earliest || !membersAgree) {
            expect({ size: queue.size, earliest: queue.peekTime(), membersAgree }).toEqual({
              size: model.size,
              earliest,
              membersAgree: true,
            });
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is empty at first: no slot and an infinite time', () => {
    const queue = new ExpiryQueue(4);
    expect(queue.peekSlot()).toBe(-1);
    expect(queue.peekTime()).toBe(Infinity);
  });
});
