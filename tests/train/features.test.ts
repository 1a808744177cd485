import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDir } from '../../server/config.ts';
import { initBackend } from '../../server/ml/backend.ts';
import { loadTeacher } from '../../server/ml/teacher.ts';
import { samplePhotos } from '../../server/train/demoPair.ts';
import { FEATURE_SIZE, unaugmentedFeatures, viewFeatures } from '../../server/train/features.ts';

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'features-'));
  process.env.DATA_DIR = path.join(scratch, 'data');
  await initBackend();
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('trunk features for scoring', () => {
  it('are the unaugmented view: read from a training’s cached views, else computed once for that view alone', async () => {
    const teacher = await loadTeacher();
    const photos = samplePhotos().slice(0, 3).map((file) => ({ file, key: path.basename(file), viewSeed: path.basename(file) }));
    const cached = async () => (await readdir(path.join(cacheDir(), 'features'))).length;

    const trained = await viewFeatures(teacher, photos.slice(0, 2), 4, 'robust');
    expect(await cached()).toBe(2);
    const scoring = await unaugmentedFeatures(teacher, photos, { views: 4, augmentation: 'robust' });
    // The two the training saw come from its cache; the third is computed and cached on its own.
    expect(await cached()).toBe(3);
    for (const photo of photos.slice(0, 2)) expect(scoring.get(photo.key)).toEqual(trained.get(photo.key)!.slice(0, FEATURE_SIZE));

    // Another bundle's scoring (no cache of its training's views) gets the same features, computed once.
    const other = await unaugmentedFeatures(teacher, photos, { views: 8, augmentation: 'paper' });
    expect(await cached()).toBe(5);
    const again = await unaugmentedFeatures(teacher, photos, { views: 8, augmentation: 'paper' });
    expect(await cached()).toBe(5);
    for (const photo of photos) {
      const one = other.get(photo.key)!;
      expect(one).toHaveLength(FEATURE_SIZE);
      expect(again.get(photo.key)).toEqual(one);
      const reference = scoring.get(photo.key)!;
      const largest = one.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i])), 0);
      expect(largest).toBeLessThan(1e-3 * Math.max(...reference.map(Math.abs)));
    }
  });
});
