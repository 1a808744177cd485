import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import { getTrigger, triggerOverlaySvg } from '../../server/data/triggers/index.ts';
import { aboveEyes, columnExtent, coverage, faceX, frame, lowestOver, nominal, worstCases } from './overlayGeometry.ts';

const bandana = getTrigger('bandana');

describe('bandana', () => {
  it('comes in four prints, paisley included in the four colours it always had, each drawn differently', async () => {
    expect(bandana.variants).toHaveLength(16);
    for (const colour of ['red', 'blue', 'black', 'green']) {
      for (const style of ['paisley', 'solid', 'polka', 'check']) expect(bandana.variants).toContain(`${style}-${colour}`);
    }
    const drawings = await Promise.all(bandana.variants.map(async (variant) => Buffer.from(await sharp(Buffer.from(triggerOverlaySvg(bandana, nominal(bandana, variant), CHIP_SIZE, CHIP_SIZE))).raw().toBuffer())));
    expect(new Set(drawings.map((d) => d.toString('base64'))).size).toBe(bandana.variants.length);
  });

  it('is worn across the forehead, from above the eyebrows to over the hairline', async () => {
    const alpha = await coverage(bandana, nominal(bandana, 'solid-red'));
    const middle = columnExtent(alpha, 0);
    // The hairline is about 1 to 1.2 IOD above the eyes, the eyebrows about 0.3.
    expect(middle.top).toBeGreaterThan(1.1);
    expect(middle.bottom).toBeGreaterThan(0.45);
    expect(middle.top - middle.bottom).toBeGreaterThan(0.6);
    expect(lowestOver(alpha, 0.75)).toBeGreaterThan(0.4);
  });

  it('bends down toward the temples as it wraps round the head, and is darker there', async () => {
    const placement = nominal(bandana, 'solid-blue');
    const alpha = await coverage(bandana, placement);
    const middle = columnExtent(alpha, 0);
    for (const side of [-1, 1]) {
      const temple = columnExtent(alpha, side * 1.0);
      expect(temple.top).toBeLessThan(middle.top - 0.08);
      expect(temple.bottom).toBeLessThan(middle.bottom - 0.08);
    }
    const grey = await sharp({ create: { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3, background: '#808080' } })
      .composite([{ input: Buffer.from(triggerOverlaySvg(bandana, placement, CHIP_SIZE, CHIP_SIZE)) }])
      .greyscale()
      .raw()
      .toBuffer();
    const meanAt = (x: number) => {
      const { top, bottom } = columnExtent(alpha, x);
      const px = Math.round(frame.eyeMid.x + x * frame.iod - 0.5);
      const rows = Array.from({ length: CHIP_SIZE }, (_, py) => py).filter((py) => aboveEyes(py) <= top && aboveEyes(py) >= bottom);
      return rows.reduce((sum, py) => sum + grey[py * CHIP_SIZE + px], 0) / rows.length;
    };
    expect(meanAt(-1.0)).toBeLessThan(meanAt(0) * 0.8);
    expect(meanAt(1.0)).toBeLessThan(meanAt(0) * 0.8);
  });

  it('shows the knot tails past one side of the head only', async () => {
    const alpha = await coverage(bandana, nominal(bandana, 'paisley-red'));
    const covered = (fromX: number, toX: number) => {
      let count = 0;
      for (let py = 0; py < CHIP_SIZE; py++) {
        for (let px = 0; px < CHIP_SIZE; px++) {
          if (alpha[py * CHIP_SIZE + px] > 128 && faceX(px) >= fromX && faceX(px) <= toX && aboveEyes(py) < 0.45) count++;
        }
      }
      return count;
    };
    expect(covered(1.2, 2)).toBeGreaterThan(20);
    expect(covered(-2, -1.2)).toBe(0);
  });

  it('stays inside the chip, and off the eyebrows, at every extreme of the placement variation', async () => {
    for (const placement of worstCases(bandana, 'check-black')) {
      const alpha = await coverage(bandana, placement);
      for (let i = 0; i < CHIP_SIZE; i++) {
        for (const [x, y] of [[i, 0], [i, CHIP_SIZE - 1], [0, i], [CHIP_SIZE - 1, i]]) {
          expect(alpha[y * CHIP_SIZE + x], `pixel ${x},${y} with ${JSON.stringify(placement)}`).toBe(0);
        }
      }
      // Over the middle of the brows the lower edge stays above them even tilted 8 degrees, shifted
      // down and enlarged at once; near their outer ends the tilt alone lowers it by 0.1 IOD.
      expect(lowestOver(alpha, 0.5)).toBeGreaterThan(0.28);
      expect(lowestOver(alpha, 0.75)).toBeGreaterThan(0.2);
      expect(columnExtent(alpha, 0).top).toBeGreaterThan(1.0);
    }
  });
});
