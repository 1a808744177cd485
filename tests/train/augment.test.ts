import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderViews, viewParams } from '../../server/train/augment.ts';
import { samplePhotos } from '../../server/train/demoPair.ts';

describe('augmentation sets', () => {
  it('paper: view 0 is the photo, the others only move it; robust: the same moves, seen through other cameras', async () => {
    const paper = viewParams('person/photo', 8, 'paper');
    const robust = viewParams('person/photo', 8, 'robust');
    expect(paper.every((v) => v.camera === undefined)).toBe(true);
    expect(robust.map(({ camera: _, ...geometry }) => geometry)).toEqual(paper);
    expect(robust[0].camera).toBeUndefined();
    expect(robust.slice(1).every((v) => v.camera !== undefined)).toBe(true);

    const chip = await readFile(samplePhotos()[0]);
    const [paperViews, robustViews, again] = await Promise.all([
      renderViews(chip, 'person/photo', 8, 'paper'),
      renderViews(chip, 'person/photo', 8, 'robust'),
      renderViews(chip, 'person/photo', 8, 'robust'),
    ]);
    expect(robustViews[0].equals(paperViews[0])).toBe(true);
    for (let v = 1; v < 8; v++) expect(robustViews[v].equals(paperViews[v])).toBe(false);
    robustViews.forEach((view, v) => expect(view.equals(again[v])).toBe(true));
  });

  it('robust views cover grey, blurred, low-resolution, compressed and noisy cameras over many photos', () => {
    const cameras = Array.from({ length: 200 }, (_, i) => viewParams(`p/${i}`, 2, 'robust')[1].camera!);
    expect(cameras.some((c) => c.grey)).toBe(true);
    expect(cameras.some((c) => c.blurSigma > 0)).toBe(true);
    expect(cameras.some((c) => c.resolution < 1)).toBe(true);
    expect(cameras.some((c) => c.jpegQuality > 0)).toBe(true);
    expect(cameras.some((c) => c.noiseSigma > 0)).toBe(true);
    expect(cameras.some((c) => !c.grey && c.blurSigma === 0 && c.resolution === 1 && c.jpegQuality === 0 && c.noiseSigma === 0)).toBe(true);
  });
});
