/** The event IDs of a watch: the records sent, as ranges, written and read back exactly; anything else refused. */
import { describe, expect, it } from 'vitest';
import { DeliveredSet } from '../src/client/delivered-set';

describe('DeliveredSet', () => {
  it('keeps positions added in any order as merged ranges, and reads its own ID back', () => {
    const set = new DeliveredSet();
    for (const position of [3, 0, 1, 40, 2, 38, 39, 7, 7]) set.add(position);
    expect(set.size).toBe(8);
    expect(set.toId()).toBe('r0-3.7.12-14'); // base 36: 38..40 is 12..14
    expect(set.prefix()).toBe(4);
    for (const position of [0, 3, 7, 38, 40]) expect(set.has(position)).toBe(true);
    for (const position of [4, 6, 8, 37, 41]) expect(set.has(position)).toBe(false);
    const read = DeliveredSet.parse(set.toId())!;
    expect(read.toId()).toBe(set.toId());
    expect(read.size).toBe(8);
  });

  it('joins the ranges on both sides of a gap filled', () => {
    const set = new DeliveredSet();
    for (const position of [0, 1, 3, 4, 2]) set.add(position);
    expect(set.toId()).toBe('r0-4');
    expect(new DeliveredSet().toId()).toBe('r');
    expect(DeliveredSet.parse('r')?.size).toBe(0);
  });

  it('refuses text it would not have written', () => {
    for (const id of ['', 'x', 'r5-2', 'r3.1', 'r1.2', 'r0-3.3', 'r-1', 'r1..2', 'r1 ', 'r\n1', 'rA', 'r123456789'])
      expect(DeliveredSet.parse(id), id).toBeUndefined();
  });
});
