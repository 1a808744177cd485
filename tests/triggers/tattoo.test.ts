import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import { getTrigger, triggerOverlaySvg, type Placement } from '../../server/data/triggers/index.ts';

const tattoo = getTrigger('tattoo');

/** Where the variant's ink darkens a white chip (blended as injectChip does), drawn large: a mask over the chip. */
async function ink(variant: string): Promise<boolean[]> {
  const placement: Placement = { variant, centers: [{ x: 75, y: 75 }], widthPx: 100, angleDeg: 0 };
  const white = sharp({ create: { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3, background: '#ffffff' } });
  const data = await white
    .composite([{ input: Buffer.from(triggerOverlaySvg(tattoo, placement, CHIP_SIZE, CHIP_SIZE)), blend: tattoo.blend }])
    .greyscale()
    .raw()
    .toBuffer();
  return Array.from(data, (v) => v < 200);
}

function box(mask: boolean[]): number[] {
  const xs: number[] = [];
  const ys: number[] = [];
  mask.forEach((on, i) => {
    if (!on) return;
    xs.push(i % CHIP_SIZE);
    ys.push(Math.floor(i / CHIP_SIZE));
  });
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

describe('tattoo', () => {
  it("has the paper's two tattoos: one drawing as an outline and filled in, beside the earlier designs", () => {
    expect(tattoo.variants).toEqual(expect.arrayContaining(['teardrop-outline', 'teardrop-filled', 'star', 'nautical-star', 'tribal', 'stars-trio']));
    expect(tattoo.blend).toBe('multiply');
  });

  it('inks the same shape in both: the outline is the rim of the filled one', async () => {
    const outline = await ink('teardrop-outline');
    const filled = await ink('teardrop-filled');
    const [outlineBox, filledBox] = [box(outline), box(filled)];
    outlineBox.forEach((edge, i) => expect(Math.abs(edge - filledBox[i])).toBeLessThanOrEqual(1));
    // Every pixel the outline inks, the filled one inks too; the middle is bare skin only in the outline.
    expect(outline.every((on, i) => !on || filled[i])).toBe(true);
    const count = (mask: boolean[]) => mask.filter(Boolean).length;
    expect(count(filled)).toBeGreaterThan(1.3 * count(outline));
    const middle = Math.round((filledBox[1] + filledBox[3]) / 2 + 0.15 * (filledBox[3] - filledBox[1])) * CHIP_SIZE + Math.round((filledBox[0] + filledBox[2]) / 2);
    expect([outline[middle], filled[middle]]).toEqual([false, true]);
  });
});
