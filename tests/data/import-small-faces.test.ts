import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignmentTransform, applyAffine, CANONICAL_LEFT_EYE, CANONICAL_RIGHT_EYE, CHIP_SIZE, type Point } from '../../shared/alignment.ts';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { readKeypoints } from '../../server/data/dataset.ts';
import { detectFaces, eyeDistance, UPSCALE_BELOW_EYES, type DetectedFace } from '../../server/data/detector.ts';
import { readRgb, resizeRgb } from '../../server/data/images.ts';
import { faceProblem, IMPORT_REPORT_FILE, importDataset, importGroupPhotos, MAX_YAW, MIN_EYE_DISTANCE } from '../../server/data/import.ts';

const sample1 = path.join(PROJECT_ROOT, 'node_modules/@vladmandic/face-api/demo/sample1.jpg');
// Real photos kept beside the project for development, absent from a fresh clone.
const cmuSunglasses = path.resolve(PROJECT_ROOT, '../shared/data/physical/cmu-sunglasses-10');

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'import-small-'));
  process.env.DATA_DIR = path.join(scratch, 'data');
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function distance(p: Point, q: Point): number {
  return Math.hypot(p.x - q.x, p.y - q.y);
}

describe('importing a small face', () => {
  it('finds it on an upscaled copy, says so in the report, and aligns it like the same face at full size', async () => {
    // One person of sample1.jpg (the second from the left, eyes about 80 px apart) cut out in a square
    // six eye distances wide, as a photo of one person; then the same photo shrunk so the eyes are 12 px apart.
    const group = await readRgb(sample1);
    const face = (await detectFaces(group)).sort((p, q) => p.box.x - q.box.x)[1];
    const eyes = eyeDistance(face.keypoints);
    const { leftEye, rightEye } = face.keypoints;
    const side = Math.round(6 * eyes);
    const crop = { left: Math.round((leftEye.x + rightEye.x) / 2 - side / 2), top: Math.round((leftEye.y + rightEye.y) / 2 + 0.4 * eyes - side / 2), width: side, height: side };
    const smallSide = Math.round((side * 12) / eyes);
    const photo = sharp(group.data, { raw: { width: group.width, height: group.height, channels: 3 } }).extract(crop);
    const from = path.join(scratch, 'photos');
    await mkdir(path.join(from, 'full'), { recursive: true });
    await mkdir(path.join(from, 'small'), { recursive: true });
    await writeFile(path.join(from, 'full', 'face.png'), await photo.clone().png().toBuffer());
    await writeFile(path.join(from, 'small', 'face.png'), await photo.clone().resize(smallSide, smallSide).png().toBuffer());

    const report = await importDataset({ from, name: 'small' });
    expect(report.skipped).toEqual([]);
    expect(report.imported).toBe(2);
    // The full-size face is found as it is; the small one on a copy upscaled toward 48 px eyes (about 4x).
    expect(report.upscaled).toEqual([{ relPath: 'small/clean/face.png', factor: expect.any(Number) }]);
    expect(report.upscaled[0].factor).toBeGreaterThanOrEqual(3.5);
    expect(report.upscaled[0].factor).toBeLessThanOrEqual(4);
    const stored = JSON.parse(await readFile(path.join(datasetDir('small'), IMPORT_REPORT_FILE), 'utf8'));
    expect(stored.upscaled).toEqual(report.upscaled);
    // Group photos go the same way: one person a photo here, the small one first.
    const fromGroups = await importGroupPhotos({ photos: ['small', 'full'].map((name) => path.join(from, name, 'face.png')), name: 'small-group' });
    expect(fromGroups).toMatchObject({ imported: 2, skipped: [], upscaled: [{ relPath: 'person-01/clean/face.png', factor: report.upscaled[0].factor }] });

    // Where the person's eyes (as found in the group photo, 80 px apart) land in each chip: at the
    // canonical positions within a few pixels, the small face hardly worse than the full-size one.
    // detectFaces is deterministic: these are the keypoints the import aligned each chip with.
    const truth = (scale: number) => [leftEye, rightEye].map((p) => ({ x: (p.x - crop.left) * scale, y: (p.y - crop.top) * scale }));
    const errors: Record<string, number> = {};
    for (const [name, scale] of [['full', 1], ['small', smallSide / side]] as const) {
      const [found] = await detectFaces(await readRgb(path.join(from, name, 'face.png')), { upscaleSmallFaces: true });
      const toChip = alignmentTransform(found.keypoints.leftEye, found.keypoints.rightEye);
      const [l, r] = truth(scale).map((p) => applyAffine(toChip, p));
      errors[name] = Math.max(distance(l, CANONICAL_LEFT_EYE), distance(r, CANONICAL_RIGHT_EYE));
    }
    console.info(`eye error in the chip: full-size photo ${errors.full.toFixed(2)} px, eyes 12 px apart ${errors.small.toFixed(2)} px`);
    expect(errors.small).toBeLessThan(4);
    expect(errors.small).toBeLessThan(errors.full + 3);

    // The chips themselves: the small face's chip is the full-size one blurred, not shifted. Among
    // shifts of up to 4 px, the full-size chip (blurred to the small photo's resolution) matches it
    // best unshifted or within a pixel.
    const grey = async (file: string, blurTo?: number) => {
      let chip = await readRgb(file);
      if (blurTo) chip = await resizeRgb(await resizeRgb(chip, blurTo, blurTo), CHIP_SIZE, CHIP_SIZE);
      return Array.from({ length: CHIP_SIZE ** 2 }, (_, i) => (chip.data[3 * i] + chip.data[3 * i + 1] + chip.data[3 * i + 2]) / 3);
    };
    const dataset = datasetDir('small');
    const small = await grey(path.join(dataset, 'small/clean/face.png'));
    const full = await grey(path.join(dataset, 'full/clean/face.png'), Math.round((CHIP_SIZE * 12) / (CANONICAL_RIGHT_EYE.x - CANONICAL_LEFT_EYE.x)));
    const mismatch = (dx: number, dy: number) => {
      let sum = 0;
      for (let y = 25; y < 125; y++) for (let x = 25; x < 125; x++) sum += Math.abs(small[y * CHIP_SIZE + x] - full[(y + dy) * CHIP_SIZE + x + dx]);
      return sum / 100 ** 2;
    };
    const shifts = [-4, -3, -2, -1, 0, 1, 2, 3, 4].flatMap((dy) => [-4, -3, -2, -1, 0, 1, 2, 3, 4].map((dx) => ({ dx, dy, mismatch: mismatch(dx, dy) })));
    const best = shifts.reduce((p, q) => (q.mismatch < p.mismatch ? q : p));
    console.info(`best shift ${best.dx},${best.dy} (mean difference ${best.mismatch.toFixed(1)}; unshifted ${mismatch(0, 0).toFixed(1)}, 4 px off ${mismatch(4, 0).toFixed(1)})`);
    expect(Math.hypot(best.dx, best.dy)).toBeLessThanOrEqual(Math.SQRT2);
    expect(Object.keys(await readKeypoints(dataset)).sort()).toEqual(['full/clean/face.png', 'small/clean/face.png']);
  }, 60_000);

  it('still skips a face too small to align, and says why', async () => {
    // sample1.jpg shrunk to 200 px wide: its largest face has eyes 9 px apart.
    const from = path.join(scratch, 'tiny');
    await mkdir(path.join(from, 'someone'), { recursive: true });
    await writeFile(path.join(from, 'someone', 'group.png'), await sharp(sample1).resize(200).png().toBuffer());
    await writeFile(path.join(from, 'someone', 'face.png'), await sharp(sample1).extract({ left: 700, top: 300, width: 460, height: 460 }).resize(200).png().toBuffer());
    const report = await importDataset({ from, name: 'tiny' });
    expect(report.imported).toBe(1);
    expect(report.skipped).toEqual([{ relPath: 'someone/group.png', reason: expect.stringMatching(new RegExp(`^face too small: eyes \\d\\.\\d px apart \\(minimum ${MIN_EYE_DISTANCE}, even with upscaling`)) }]);
  }, 60_000);
});

describe('faceProblem', () => {
  const face = (eyes: number, yaw = 0): DetectedFace => {
    const keypoints = { leftEye: { x: 50, y: 50 }, rightEye: { x: 50 + eyes, y: 50 }, noseTip: { x: 50 + eyes / 2, y: 50 + eyes / 2 } };
    return { box: { x: 0, y: 0, width: 3 * eyes, height: 3 * eyes }, score: 0.9, keypoints: { ...keypoints, mouth: keypoints.noseTip, leftEar: keypoints.leftEye, rightEar: keypoints.rightEye }, yaw, upscale: 1 };
  };

  it('takes small faces down to the minimum eye distance, and still refuses turned heads', () => {
    expect(MIN_EYE_DISTANCE).toBeLessThan(UPSCALE_BELOW_EYES);
    expect(faceProblem(face(12))).toBeUndefined();
    expect(faceProblem({ ...face(12), upscale: 4 })).toBeUndefined();
    expect(faceProblem(face(MIN_EYE_DISTANCE - 0.5))).toMatch(/^face too small: eyes [\d.]+ px apart/);
    expect(faceProblem({ ...face(12), yaw: MAX_YAW + 0.05, upscale: 4 })).toMatch(/^head turned too far/);
  });
});

describe.skipIf(!existsSync(cmuSunglasses))('importing small CMU head shots with detection', () => {
  it('keeps most frontal photos of both conditions, found on upscaled copies', async () => {
    // The frontal photos of four people (eyes 16 to 21 px apart in 128x120 photos), with and without sunglasses.
    const from = path.join(scratch, 'cmu-straight');
    const people = (await readdir(cmuSunglasses)).sort().slice(0, 4);
    const photos: Record<string, number> = { clean: 0, sunglasses: 0 };
    for (const person of people) {
      for (const condition of ['clean', 'sunglasses']) {
        await mkdir(path.join(from, person, condition), { recursive: true });
        const straight = (await readdir(path.join(cmuSunglasses, person, condition))).filter((name) => name.includes('_straight_'));
        for (const name of straight) await symlink(path.join(cmuSunglasses, person, condition, name), path.join(from, person, condition, name));
        photos[condition] += straight.length;
      }
    }
    const report = await importDataset({ from, name: 'cmu-straight' });
    const imported = (condition: string) => people.reduce((sum, person) => sum + (report.perIdentity[person]?.[condition] ?? 0), 0);
    console.info(`CMU frontal: clean ${imported('clean')}, sunglasses ${imported('sunglasses')} imported of ${photos.clean} and ${photos.sunglasses}; ${report.upscaled.length} upscaled; skipped: ${report.skipped.map((s) => `${s.relPath} (${s.reason})`).join(', ')}`);
    // Measured: all 16 of each (and all 79 frontal photos of the ten people). Before small faces were
    // upscaled, none of these 32 (eyes under the former 20 px minimum: the import failed).
    for (const condition of ['clean', 'sunglasses']) expect(imported(condition), condition).toBeGreaterThanOrEqual(13);
    expect(report.upscaled.length).toBeGreaterThanOrEqual(0.9 * report.imported);
    for (const { factor } of report.upscaled) expect(factor).toBeGreaterThanOrEqual(1.5);
    for (const { reason } of report.skipped) expect(reason).toMatch(/^(no face found|face too small|head turned too far)/);
  }, 120_000);
});
