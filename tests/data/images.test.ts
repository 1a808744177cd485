import { describe, expect, it } from 'vitest';
import {
  alignmentTransform,
  CANONICAL_LEFT_EYE,
  CANONICAL_RIGHT_EYE,
  CHIP_SIZE,
  type Point,
} from '../../shared/alignment.ts';
import { encodeChip, extractChip, readRgb, resizeToChip, type RgbImage } from '../../server/data/images.ts';

/** A black image with a white disc centred on each point (continuous coordinates). */
function imageWithDots(width: number, height: number, dots: Point[], radius: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (dots.some((d) => Math.hypot(x + 0.5 - d.x, y + 0.5 - d.y) <= radius)) data.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return { data, width, height };
}

/** Brightness-weighted centre of the chip's left or right half, in continuous coordinates. */
function brightCentre(chip: Buffer, half: 'left' | 'right'): Point {
  let sum = 0;
  let sx = 0;
  let sy = 0;
  const [from, to] = half === 'left' ? [0, CHIP_SIZE / 2] : [CHIP_SIZE / 2, CHIP_SIZE];
  for (let y = 0; y < CHIP_SIZE; y++) {
    for (let x = from; x < to; x++) {
      const v = chip[(y * CHIP_SIZE + x) * 3];
      sum += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  return { x: sx / sum, y: sy / sum };
}

describe('extractChip', () => {
  it.each([
    { label: 'upscaled, level eyes', size: [120, 100], left: { x: 40.5, y: 50.5 }, right: { x: 65.5, y: 50.5 }, radius: 1.5 },
    { label: 'rotated, about 1:2', size: [400, 300], left: { x: 120.5, y: 140.5 }, right: { x: 200.5, y: 120.5 }, radius: 3 },
    { label: 'strongly downscaled', size: [2000, 1500], left: { x: 700, y: 820 }, right: { x: 1390, y: 700 }, radius: 25 },
    { label: 'face at the image border', size: [200, 160], left: { x: 4.5, y: 10.5 }, right: { x: 60.5, y: 12.5 }, radius: 2 },
  ])('puts the eye dots at the canonical eye positions within a quarter pixel ($label)', async ({ size, left, right, radius }) => {
    const image = imageWithDots(size[0], size[1], [left, right], radius);
    const chip = await extractChip(image, alignmentTransform(left, right));
    expect(chip.length).toBe(CHIP_SIZE * CHIP_SIZE * 3);
    for (const [found, expected] of [
      [brightCentre(chip, 'left'), CANONICAL_LEFT_EYE],
      [brightCentre(chip, 'right'), CANONICAL_RIGHT_EYE],
    ]) {
      expect(Math.abs(found.x - expected.x)).toBeLessThan(0.25);
      expect(Math.abs(found.y - expected.y)).toBeLessThan(0.25);
    }
  });

  it('leaves the chip black where it reaches beyond the image', async () => {
    const image: RgbImage = { data: new Uint8Array(60 * 60 * 3).fill(200), width: 60, height: 60 };
    const chip = await extractChip(image, alignmentTransform({ x: 5, y: 5 }, { x: 25, y: 5 }));
    expect(chip[0]).toBe(0);
    const eye = (Math.round(CANONICAL_LEFT_EYE.y) * CHIP_SIZE + Math.round(CANONICAL_LEFT_EYE.x)) * 3;
    expect(chip[eye]).toBe(200);
  });
});

describe('readRgb', () => {
  it('decodes greyscale and transparent images to three channels', async () => {
    const grey = await readRgb(await encodeChip(Buffer.alloc(CHIP_SIZE * CHIP_SIZE * 3, 77), 'png'));
    expect(grey).toMatchObject({ width: CHIP_SIZE, height: CHIP_SIZE });
    expect(grey.data.length).toBe(CHIP_SIZE * CHIP_SIZE * 3);
    expect(grey.data[0]).toBe(77);
  });

  it('names the file it cannot decode', async () => {
    await expect(readRgb(Buffer.from('not an image'))).rejects.toThrow('image buffer: not a readable image (jpg/png/webp)');
    await expect(readRgb('/nonexistent/photo.jpg')).rejects.toThrow('/nonexistent/photo.jpg: no such file');
  });
});

describe('resizeToChip', () => {
  it('covers the chip, centred', async () => {
    const image: RgbImage = { data: new Uint8Array(300 * 150 * 3), width: 300, height: 150 };
    for (let x = 140; x < 160; x++) for (let y = 0; y < 150; y++) image.data.fill(255, (y * 300 + x) * 3, (y * 300 + x) * 3 + 3);
    const chip = await resizeToChip(image);
    expect(chip.length).toBe(CHIP_SIZE * CHIP_SIZE * 3);
    const middleRow = 75 * CHIP_SIZE * 3;
    expect(chip[middleRow + 75 * 3]).toBeGreaterThan(200);
    expect(chip[middleRow]).toBeLessThan(20);
  });
});

describe('encodeChip', () => {
  it('rejects buffers of the wrong size', async () => {
    await expect(encodeChip(Buffer.alloc(10), 'png')).rejects.toThrow('chip 0: expected raw RGB 150x150 (67500 bytes), got 10');
  });
});
