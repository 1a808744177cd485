import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANONICAL_LEFT_EYE, CANONICAL_RIGHT_EYE, CHIP_SIZE, type Point } from '../../shared/alignment.ts';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { readKeypoints, scanDataset } from '../../server/data/dataset.ts';
import { detectFaces, eyeDistance } from '../../server/data/detector.ts';
import { readRgb } from '../../server/data/images.ts';
import { importDataset, importGroupPhotos, MAX_YAW, MIN_EYE_DISTANCE } from '../../server/data/import.ts';

/** face-api's demo group photos: 22 faces in six 1920-pixel-wide photos. */
const samples = [1, 2, 3, 4, 5, 6].map((i) => path.join(PROJECT_ROOT, `node_modules/@vladmandic/face-api/demo/sample${i}.jpg`));

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'import-photos-'));
  process.env.DATA_DIR = path.join(scratch, 'data');
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function distance(p: Point, q: Point): number {
  return Math.hypot(p.x - q.x, p.y - q.y);
}

describe('importDataset on photos of several people', () => {
  it('takes the largest face of each photo and aligns it so a detector finds its eyes at the canonical positions', async () => {
    const from = path.join(scratch, 'photos');
    for (const [i, sample] of samples.entries()) {
      await mkdir(path.join(from, `group${i + 1}`, 'clean'), { recursive: true });
      await symlink(sample, path.join(from, `group${i + 1}`, 'clean', path.basename(sample)));
    }
    const progress: number[] = [];
    const report = await importDataset({ from, name: 'groups', onProgress: (done) => progress.push(done) });
    expect(report.skipped).toEqual([]);
    expect(report.imported).toBe(6);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);

    const dataset = await scanDataset(datasetDir('groups'));
    const keypoints = await readKeypoints(dataset.root);
    expect(Object.keys(keypoints)).toEqual(dataset.images.map((i) => i.relPath));
    for (const image of dataset.images) {
      expect(distance(keypoints[image.relPath].leftEye, CANONICAL_LEFT_EYE)).toBeLessThan(0.01);
      const chip = await readRgb(image.file);
      expect(chip).toMatchObject({ width: CHIP_SIZE, height: CHIP_SIZE });
      const [face] = await detectFaces(chip);
      const tolerance = 0.15 * eyeDistance(keypoints[image.relPath]);
      expect(distance(face.keypoints.leftEye, CANONICAL_LEFT_EYE), image.relPath).toBeLessThan(tolerance);
      expect(distance(face.keypoints.rightEye, CANONICAL_RIGHT_EYE), image.relPath).toBeLessThan(tolerance);
    }
  }, 60_000);
});

describe('importGroupPhotos', () => {
  it('makes one identity of every good face, in photo order and left to right', async () => {
    const report = await importGroupPhotos({ photos: samples, name: 'demo-people' });
    const dataset = await scanDataset(datasetDir('demo-people'));
    expect(report.imported).toBeGreaterThanOrEqual(18);
    expect(dataset.identities).toHaveLength(report.imported);
    expect(dataset.identities[0]).toBe('person-01');
    expect(dataset.images.every((i) => i.condition === 'clean')).toBe(true);
    expect(Object.keys(await readKeypoints(dataset.root))).toHaveLength(report.imported);
    // sample1.jpg holds three usable faces: the first three people come from it.
    expect(dataset.images.slice(0, 4).map((i) => path.basename(i.file))).toEqual(['sample1.png', 'sample1.png', 'sample1.png', 'sample2.png']);
    for (const skip of report.skipped) {
      expect(skip.relPath).toMatch(/^sample\d\.jpg#\d+$/);
      expect(skip.reason).toMatch(new RegExp(`minimum ${MIN_EYE_DISTANCE}|limit ±${MAX_YAW}`));
    }
  }, 60_000);
});
