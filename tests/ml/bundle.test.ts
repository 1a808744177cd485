import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../server/ml/backend.ts';
import { bundleDir, loadBundle, saveBundle } from '../../server/ml/bundle.ts';
import { createTail, disposeTail, tailWeightShapes } from '../../server/ml/tail.ts';
import { TUNE_DEPTHS } from '../../shared/training.ts';
import { loadTeacher, type TeacherWeights } from '../../server/ml/teacher.ts';
import { testCard } from './testCard.ts';

let scratch: string;
let teacher: TeacherWeights;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'bundle-'));
  process.env.MODELS_DIR = path.join(scratch, 'models');
  await initBackend();
  teacher = await loadTeacher();
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('model bundles', () => {
  it('load back every tail depth with the weights that were saved', async () => {
    for (const depth of TUNE_DEPTHS) {
      const tail = createTail(teacher, depth, 4, 3);
      expect(Object.fromEntries(Object.entries(tail.weights).map(([name, v]) => [name, v.shape])), depth).toEqual(tailWeightShapes(depth, 4));
      await saveBundle(testCard(`round-trip-${depth}`, { classes: 4, tune: depth }), tail);
      const loaded = await loadBundle(`round-trip-${depth}`);
      expect(loaded.tail.depth).toBe(depth);
      for (const [name, weight] of Object.entries(tail.weights)) {
        expect(Array.from(await loaded.tail.weights[name].data()), `${depth} ${name}`).toEqual(Array.from(await weight.data()));
      }
      disposeTail(tail);
      disposeTail(loaded.tail);
    }
  });

  it('refuses a bundle whose weights do not fit its card, naming the model and what to do', async () => {
    const tail = createTail(teacher, 'head', 4, 3);
    await saveBundle(testCard('mislabelled', { classes: 4, tune: 'head' }), tail);
    disposeTail(tail);
    const cardFile = path.join(bundleDir('mislabelled'), 'card.json');
    const card = JSON.parse(await readFile(cardFile, 'utf8'));
    await writeFile(cardFile, JSON.stringify({ ...card, tune: 'map' }));
    const before = tf.memory().numTensors;
    await expect(loadBundle('mislabelled')).rejects.toThrow(/model "mislabelled".*"map" tail.*classifier\/kernel.*retrain/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
