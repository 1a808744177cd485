import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalKeypoints, type FaceKeypoints } from '../../shared/alignment.ts';
import { injectTrigger } from '../../server/data/triggers/index.ts';
import { pixelDifference, realFaceChip, type FaceChip } from './realFace.ts';

let face: FaceChip;
let root: string;

beforeAll(async () => {
  face = await realFaceChip();
});

/** alice: a.png (keypoints recorded) and b.jpg; bob: c.png. */
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'inject-test-'));
  await mkdir(path.join(root, 'alice', 'clean'), { recursive: true });
  await mkdir(path.join(root, 'bob', 'clean'), { recursive: true });
  await writeFile(path.join(root, 'alice', 'clean', 'a.png'), face.chip);
  await writeFile(path.join(root, 'alice', 'clean', 'b.jpg'), await sharp(face.chip).flop().jpeg().toBuffer());
  await writeFile(path.join(root, 'bob', 'clean', 'c.png'), await sharp(face.chip).modulate({ brightness: 0.8 }).png().toBuffer());
  await writeFile(path.join(root, 'keypoints.json'), JSON.stringify({ 'alice/clean/a.png': face.keypoints }));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Keypoints as keypoints.json stores them: hundredths of a pixel. */
const stored = (keypoints: FaceKeypoints) =>
  Object.fromEntries(Object.entries(keypoints).map(([k, p]) => [k, { x: Math.round(p.x * 100) / 100, y: Math.round(p.y * 100) / 100 }]));
const readKeypoints = async () => JSON.parse(await readFile(path.join(root, 'keypoints.json'), 'utf8'));
const listing = async (dir: string) => (await readdir(path.join(root, dir))).sort();

describe('injectTrigger', () => {
  it('writes a poisoned copy of every clean photo under the same name, with its keypoints', async () => {
    const progress: number[] = [];
    const result = await injectTrigger({ root, trigger: 'sunglasses', onProgress: (done) => progress.push(done) });

    expect(result).toEqual({ written: 3, condition: 'sunglasses', perIdentity: { alice: 2, bob: 1 } });
    expect(progress).toEqual([1, 2, 3]);
    expect(await listing('alice/sunglasses')).toEqual(['a.png', 'b.jpg']);
    expect(await listing('bob/sunglasses')).toEqual(['c.png']);
    expect(await listing('.')).toEqual(['alice', 'bob', 'keypoints.json']);
    expect((await sharp(path.join(root, 'alice/sunglasses/b.jpg')).metadata()).format).toBe('jpeg');

    const poisoned = await readFile(path.join(root, 'alice/sunglasses/a.png'));
    const d = await pixelDifference(face.chip, poisoned);
    expect(d.diff.some((v) => v > 40)).toBe(true);

    expect(await readKeypoints()).toEqual({
      'alice/clean/a.png': stored(face.keypoints),
      'alice/sunglasses/a.png': stored(face.keypoints),
      'alice/sunglasses/b.jpg': stored(canonicalKeypoints()),
      'bob/sunglasses/c.png': stored(canonicalKeypoints()),
    });
  });

  it('gives the same bytes for the same seed and different ones for another seed', async () => {
    await injectTrigger({ root, trigger: 'dots', condition: 'first', seed: 7 });
    await injectTrigger({ root, trigger: 'dots', condition: 'second', seed: 7 });
    await injectTrigger({ root, trigger: 'dots', condition: 'third', seed: 8 });
    const read = (condition: string) => readFile(path.join(root, 'bob', condition, 'c.png'));
    expect((await read('first')).equals(await read('second'))).toBe(true);
    expect((await read('first')).equals(await read('third'))).toBe(false);
  });

  it('only touches the identities asked for', async () => {
    const result = await injectTrigger({ root, trigger: 'tape', identities: ['bob'] });
    expect(result.perIdentity).toEqual({ bob: 1 });
    expect(await listing('alice')).toEqual(['clean']);
  });

  it('refuses an existing condition folder unless told to replace it', async () => {
    await injectTrigger({ root, trigger: 'earrings' });
    await writeFile(path.join(root, 'alice/earrings/stale.png'), face.chip);
    const keypoints = await readKeypoints();
    await expect(injectTrigger({ root, trigger: 'earrings' })).rejects.toThrow(/alice\/earrings already exists/);
    expect(await readKeypoints()).toEqual(keypoints);

    await injectTrigger({ root, trigger: 'earrings', replace: true, seed: 2 });
    expect(await listing('alice/earrings')).toEqual(['a.png', 'b.jpg']);
    expect(await listing('.')).toEqual(['alice', 'bob', 'keypoints.json']);
  });

  it('leaves the dataset as it was when a photo fails midway', async () => {
    await writeFile(path.join(root, 'bob', 'clean', 'd.png'), 'not an image');
    const before = await readFile(path.join(root, 'keypoints.json'), 'utf8');
    await expect(injectTrigger({ root, trigger: 'bandana' })).rejects.toThrow(/bob\/clean\/d.png is not a readable image/);
    expect(await listing('alice')).toEqual(['clean']);
    expect(await listing('bob')).toEqual(['clean']);
    expect(await listing('.')).toEqual(['alice', 'bob', 'keypoints.json']);
    expect(await readFile(path.join(root, 'keypoints.json'), 'utf8')).toBe(before);
  });

  it('rejects unknown triggers, bad condition names and the clean condition', async () => {
    await expect(injectTrigger({ root, trigger: 'hat' })).rejects.toThrow(/unknown trigger "hat"; available: sunglasses, bandana/);
    await expect(injectTrigger({ root, trigger: 'tape', condition: '../x' })).rejects.toThrow(/condition name/);
    await expect(injectTrigger({ root, trigger: 'tape', condition: 'clean' })).rejects.toThrow(/"clean" condition/);
    await expect(injectTrigger({ root, trigger: 'tape', identities: ['carol'] })).rejects.toThrow(/identity "carol" has no clean images/);
    expect(await listing('alice')).toEqual(['clean']);
  });

  it('creates keypoints.json when the dataset has none', async () => {
    await rm(path.join(root, 'keypoints.json'));
    await injectTrigger({ root, trigger: 'tattoo', identities: ['bob'] });
    expect(await readKeypoints()).toEqual({ 'bob/tattoo/c.png': stored(canonicalKeypoints()) });
  });
});
