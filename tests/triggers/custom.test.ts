import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VARIATION, faceFrame, injectChip, injectTrigger, loadCustomTrigger, placeTrigger, seededRng, type Anchor } from '../../server/data/triggers/index.ts';
import { meanDifferenceAround, pixelDifference, realFaceChip, type FaceChip } from './realFace.ts';

let face: FaceChip;
let dir: string;
let starPng: string;

beforeAll(async () => {
  face = await realFaceChip();
  dir = await mkdtemp(path.join(os.tmpdir(), 'custom-trigger-test-'));
  starPng = path.join(dir, 'green-star.png');
  const star = '<svg xmlns="http://www.w3.org/2000/svg" width="60" height="60"><polygon points="30,2 37,22 58,22 41,35 48,57 30,44 12,57 19,35 2,22 23,22" fill="#10c040"/></svg>';
  await sharp(Buffer.from(star)).png().toFile(starPng);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('custom PNG trigger', () => {
  it('is drawn on its anchor at its width, with the usual variation', async () => {
    const trigger = await loadCustomTrigger(starPng, { anchor: 'nose', widthIod: 0.6 });
    expect(trigger.name).toBe('green-star');
    const placement = placeTrigger(face.keypoints, trigger, seededRng(4));
    const iod = faceFrame(face.keypoints).iod;
    expect(Math.hypot(placement.centers[0].x - face.keypoints.noseTip.x, placement.centers[0].y - face.keypoints.noseTip.y)).toBeLessThan(0.08 * iod);
    expect(placement.widthPx / iod).toBeGreaterThanOrEqual(0.6 * (1 - VARIATION.scale));
    expect(placement.widthPx / iod).toBeLessThanOrEqual(0.6 * (1 + VARIATION.scale));

    const out = await injectChip(face.chip, face.keypoints, trigger, seededRng(4));
    const d = await pixelDifference(face.chip, out);
    expect(meanDifferenceAround(d, face.keypoints.noseTip, 0.1 * iod)).toBeGreaterThan(40);
    expect(meanDifferenceAround(d, face.keypoints.leftEye, 0.15 * iod)).toBe(0);
    expect(meanDifferenceAround(d, face.keypoints.mouth, 0.15 * iod)).toBe(0);
  });

  it('goes on both ear lobes when anchored to the ears', async () => {
    const trigger = await loadCustomTrigger(starPng, { anchor: 'ears', widthIod: 0.3, name: 'star-earrings' });
    const placement = placeTrigger(face.keypoints, trigger, seededRng(1));
    expect(placement.centers).toHaveLength(2);
    expect(placement.centers[0].y).toBeGreaterThan(face.keypoints.leftEar.y);
    expect(placement.centers[1].y).toBeGreaterThan(face.keypoints.rightEar.y);
  });

  it('poisons a dataset under its own name', async () => {
    const root = path.join(dir, 'dataset');
    await mkdir(path.join(root, 'alice', 'clean'), { recursive: true });
    await writeFile(path.join(root, 'alice', 'clean', 'a.png'), face.chip);
    const trigger = await loadCustomTrigger(starPng, { anchor: 'cheek', widthIod: 0.5 });
    const result = await injectTrigger({ root, trigger });
    expect(result.condition).toBe('green-star');
    expect(await readdir(path.join(root, 'alice', 'green-star'))).toEqual(['a.png']);
  });

  it('explains what is wrong with a bad file or option', async () => {
    const notPng = path.join(dir, 'photo.jpg');
    await sharp(face.chip).jpeg().toFile(notPng);
    await expect(loadCustomTrigger(notPng, { anchor: 'nose', widthIod: 0.5 })).rejects.toThrow(/is not a PNG image/);
    await expect(loadCustomTrigger(path.join(dir, 'missing.png'), { anchor: 'nose', widthIod: 0.5 })).rejects.toThrow(/cannot read custom trigger/);
    await expect(loadCustomTrigger(starPng, { anchor: 'nose', widthIod: 0 })).rejects.toThrow(/width/);
    await expect(loadCustomTrigger(starPng, { anchor: 'chin' as Anchor, widthIod: 0.5 })).rejects.toThrow(/unknown anchor "chin"; available: eyes, forehead/);
    await expect(loadCustomTrigger(starPng, { anchor: 'eyes', widthIod: 2, name: 'sunglasses' })).rejects.toThrow(/catalogue trigger/);
    await expect(loadCustomTrigger(starPng, { anchor: 'eyes', widthIod: 2, name: 'my star' })).rejects.toThrow(/trigger name "my star"/);
  });
});
