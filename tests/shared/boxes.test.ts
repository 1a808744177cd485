import { describe, expect, it } from 'vitest';
import { boxOverlap } from '../../shared/boxes.ts';
import type { Box } from '../../shared/protocol.ts';

const box = (x: number, y: number, size: number): Box => ({ x, y, width: size, height: size });

describe('box overlap', () => {
  it('is intersection over union', () => {
    // 5x10 shared of 100 + 100 - 50
    expect(boxOverlap(box(0, 0, 10), box(5, 0, 10))).toBeCloseTo(1 / 3, 12);
    expect(boxOverlap(box(0, 0, 10), box(0, 0, 10))).toBe(1);
    expect(boxOverlap(box(0, 0, 10), box(10, 0, 10))).toBe(0);
    expect(boxOverlap(box(0, 0, 10), box(20, 20, 5))).toBe(0);
  });
});
