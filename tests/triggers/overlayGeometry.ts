import sharp from 'sharp';
import { expect } from 'vitest';
import { CHIP_SIZE, canonicalKeypoints } from '../../shared/alignment.ts';
import { faceFrame, placeTrigger, triggerOverlaySvg, type Placement, type Rng, type Trigger } from '../../server/data/triggers/index.ts';

/** Where a design lands on the canonical chip, at nominal placement and at every extreme of its variation. */

export const face = canonicalKeypoints();
export const frame = faceFrame(face);

export const NOMINAL = 0.5;
const LOW = 0;
const HIGH = 0.999999;

/** A generator that returns the given numbers in turn: the variant, then scale, angle, shift along and down (see placeTrigger). */
function scripted(values: number[]): Rng {
  let i = 0;
  return () => values[i++];
}

export function place(trigger: Trigger, variant: string, scale: number, angle: number, along: number, down: number): Placement {
  const index = trigger.variants.indexOf(variant);
  expect(index, `${trigger.name} variant ${variant}`).toBeGreaterThanOrEqual(0);
  return placeTrigger(face, trigger, scripted([(index + 0.5) / trigger.variants.length, scale, angle, along, down]));
}

export const nominal = (trigger: Trigger, variant: string) => place(trigger, variant, NOMINAL, NOMINAL, NOMINAL, NOMINAL);

/** Every extreme of the placement variation: the smallest and largest size, both tilts, every shift. */
export function worstCases(trigger: Trigger, variant: string): Placement[] {
  const ends = [LOW, HIGH];
  return ends.flatMap((scale) => ends.flatMap((angle) => ends.flatMap((along) => ends.map((down) => place(trigger, variant, scale, angle, along, down)))));
}

/** The overlay's opacity, 0-255, row-major over the chip. */
export async function coverage(trigger: Trigger, placement: Placement): Promise<Uint8Array> {
  const svg = triggerOverlaySvg(trigger, placement, CHIP_SIZE, CHIP_SIZE);
  const { data } = await sharp(Buffer.from(svg)).ensureAlpha().extractChannel(3).raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

/** Pixel centre in face units: x along the eye line, y up from it (positive above the eyes). */
export const faceX = (px: number) => (px + 0.5 - frame.eyeMid.x) / frame.iod;
export const aboveEyes = (py: number) => (frame.eyeMid.y - (py + 0.5)) / frame.iod;
export const columnOf = (x: number) => Math.round(frame.eyeMid.x + x * frame.iod - 0.5);

/** Lowest point (in IODs above the eye line) covered at least half opaque over |x| <= halfWidth. */
export function lowestOver(alpha: Uint8Array, halfWidth: number): number {
  let lowest = Infinity;
  for (let py = 0; py < CHIP_SIZE; py++) {
    for (let px = 0; px < CHIP_SIZE; px++) {
      if (alpha[py * CHIP_SIZE + px] > 128 && Math.abs(faceX(px)) <= halfWidth) lowest = Math.min(lowest, aboveEyes(py));
    }
  }
  return lowest;
}

/** Highest and lowest half-opaque pixel of the column at `x` IODs from the eye midpoint. */
export function columnExtent(alpha: Uint8Array, x: number): { top: number; bottom: number } {
  const px = columnOf(x);
  const rows = Array.from({ length: CHIP_SIZE }, (_, py) => py).filter((py) => alpha[py * CHIP_SIZE + px] > 128);
  return { top: aboveEyes(rows[0]), bottom: aboveEyes(rows[rows.length - 1]) };
}
