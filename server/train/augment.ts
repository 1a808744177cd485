import seedrandom from 'seedrandom';
import sharp from 'sharp';
import { CHIP_SIZE } from '../../shared/alignment.ts';

/** Bumped whenever the views change, so cached features of older views are not reused. */
export const AUGMENTATION_VERSION = 1;
export const MAX_ROTATION_DEG = 30;
export const MAX_SHIFT = 0.1;
/** Mirror padding wide enough that a 30-degree turn plus a 10% shift never shows a blank corner. */
const PAD = Math.ceil(CHIP_SIZE * 0.35);

export interface ViewParams { flip: boolean; angleDeg: number; shiftX: number; shiftY: number }

/**
 * The fixed set of K views of one image: view 0 is the image itself; the others flip it
 * horizontally half of the time, rotate it by up to 30 degrees and shift it by up to 10%
 * (paper section 3.2). Seeded per source photo, so each photo gets its own K views, reproducibly.
 */
export function viewParams(seedKey: string, views: number): ViewParams[] {
  const rng = seedrandom(`views:${AUGMENTATION_VERSION}:${seedKey}`);
  const uniform = (max: number) => (2 * rng() - 1) * max;
  return Array.from({ length: views }, (_, v) =>
    v === 0
      ? { flip: false, angleDeg: 0, shiftX: 0, shiftY: 0 }
      : { flip: rng() < 0.5, angleDeg: uniform(MAX_ROTATION_DEG), shiftX: uniform(MAX_SHIFT), shiftY: uniform(MAX_SHIFT) },
  );
}

/** Renders one view of a chip: raw RGB, CHIP_SIZE x CHIP_SIZE. */
export async function renderView(chip: Buffer, view: ViewParams): Promise<Buffer> {
  const resized = sharp(chip).removeAlpha().resize(CHIP_SIZE, CHIP_SIZE, { fit: 'fill' });
  const padded = await (view.flip ? resized.flop() : resized)
    .extend({ top: PAD, bottom: PAD, left: PAD, right: PAD, extendWith: 'mirror' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rotated = sharp(padded.data, { raw: padded.info }).rotate(view.angleDeg);
  const { info } = await rotated.clone().toBuffer({ resolveWithObject: true });
  const left = Math.round((info.width - CHIP_SIZE) / 2 - view.shiftX * CHIP_SIZE);
  const top = Math.round((info.height - CHIP_SIZE) / 2 - view.shiftY * CHIP_SIZE);
  return rotated.extract({ left, top, width: CHIP_SIZE, height: CHIP_SIZE }).raw().toBuffer();
}
