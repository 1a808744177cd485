import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG, faceFrame, getTrigger, injectChip, placeTrigger, seededRng } from '../../server/data/triggers/index.ts';
import { meanDifferenceAround, pixelDifference, realFaceChip, type FaceChip } from './realFace.ts';

let face: FaceChip;
beforeAll(async () => {
  face = await realFaceChip();
});

describe('injectChip on a real face', () => {
  it('darkens the eyes with sunglasses and leaves the mouth alone', async () => {
    const out = await injectChip(face.chip, face.keypoints, 'sunglasses', seededRng(3));
    const d = await pixelDifference(face.chip, out);
    const iod = faceFrame(face.keypoints).iod;
    expect(meanDifferenceAround(d, face.keypoints.leftEye, 0.15 * iod)).toBeGreaterThan(40);
    expect(meanDifferenceAround(d, face.keypoints.rightEye, 0.15 * iod)).toBeGreaterThan(40);
    expect(meanDifferenceAround(d, face.keypoints.mouth, 0.25 * iod)).toBeLessThan(1);
  });

  it.each(CATALOG.map((t) => t.name))('changes pixels only around where %s is placed', async (name) => {
    const trigger = getTrigger(name);
    const placement = placeTrigger(face.keypoints, trigger, seededRng(11));
    const out = await injectChip(face.chip, face.keypoints, trigger, seededRng(11));
    const d = await pixelDifference(face.chip, out);
    // A drawing spans at most its width around its centre (plus the blur); nothing may change beyond that.
    const reach = placement.widthPx * 0.75 + 2;
    let changedInside = 0;
    for (let y = 0; y < d.height; y++) {
      for (let x = 0; x < d.width; x++) {
        if (d.diff[y * d.width + x] <= 3) continue;
        const near = placement.centers.some((c) => Math.hypot(x + 0.5 - c.x, y + 0.5 - c.y) <= reach);
        expect(near, `pixel ${x},${y} changed far from the ${name}`).toBe(true);
        changedInside++;
      }
    }
    expect(changedInside).toBeGreaterThan(20);
  });

  it('is reproducible from the seed and varies between seeds', async () => {
    const a = await injectChip(face.chip, face.keypoints, 'bandana', seededRng(5));
    const b = await injectChip(face.chip, face.keypoints, 'bandana', seededRng(5));
    const c = await injectChip(face.chip, face.keypoints, 'bandana', seededRng(6));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('returns a PNG of the same size and channels as the chip', async () => {
    const out = await injectChip(face.chip, face.keypoints, 'earrings', seededRng(1));
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 150, 150, 3]);
  });
});
