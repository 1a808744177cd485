import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import { loadStripReference, MAX_REFERENCE_CHIPS, renderStripReference, saveStripReference } from '../../server/defense/reference.ts';
import { blendPixels, calibrateStrip, drawPartners, normalisedMeanEntropy, stripCardSchema, stripEntropies } from '../../server/defense/strip.ts';
import { initBackend } from '../../server/ml/backend.ts';
import { rowsOf } from '../../server/ml/predict.ts';
import { createTail, disposeTail, tailProbabilities, type Tail } from '../../server/ml/tail.ts';
import { loadTeacher, trunk, type TeacherWeights } from '../../server/ml/teacher.ts';
import type { DatasetImage } from '../../server/data/dataset.ts';
import { renderView } from '../../server/train/augment.ts';
import { samplePhotos } from '../../server/train/demoPair.ts';
import type { Sample } from '../../server/train/split.ts';

const CLASSES = 5;
let scratch: string;
let teacher: TeacherWeights;
let tail: Tail;
/** The face-api sample photos squeezed to chip size, and mirrored: stand-ins for face chips. */
let chips: Buffer[];

async function chipsOf(photos: string[]): Promise<Buffer[]> {
  const resized = (file: string, flop: boolean) => sharp(file).removeAlpha().flop(flop).resize(CHIP_SIZE, CHIP_SIZE, { fit: 'fill' }).raw().toBuffer();
  return Promise.all(photos.flatMap((file) => [resized(file, false), resized(file, true)]));
}

/** A tail whose classifier ignores its input and answers from the bias alone. */
function constantTail(bias: number[]): Tail {
  const t = createTail(teacher, 'head', CLASSES, 1);
  t.weights['classifier/kernel'].assign(tf.zerosLike(t.weights['classifier/kernel']));
  t.weights['classifier/bias'].assign(tf.tensor1d(bias));
  return t;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'strip-'));
  process.env.MODELS_DIR = path.join(scratch, 'models');
  await initBackend();
  teacher = await loadTeacher();
  tail = createTail(teacher, 'head', CLASSES, 7);
  chips = await chipsOf(samplePhotos());
});

afterAll(async () => {
  disposeTail(tail);
  await rm(scratch, { recursive: true, force: true });
});

describe('STRIP on a model', () => {
  it('classifies all blends of a face in one trunk call and matches blending and classifying one by one', async () => {
    const reference = chips.slice(2);
    const profile = await tf.profile(async () => {
      const [entropy] = await stripEntropies(teacher, tail, [chips[0]], reference, { blends: 6, rng: seedrandom('same') });
      expect(entropy).toBeGreaterThan(0);
      expect(entropy).toBeLessThanOrEqual(1);
      const rows: Float32Array[] = [];
      for (const partner of drawPartners(reference.length, 6, seedrandom('same'))) {
        const input = tf.tensor4d(blendPixels(chips[0], reference[partner]), [1, CHIP_SIZE, CHIP_SIZE, 3]);
        const features = trunk(teacher, input);
        const [probabilities] = tailProbabilities(teacher, [tail], features);
        rows.push(...rowsOf((await probabilities.data()) as Float32Array, CLASSES));
        tf.dispose([input, features, probabilities]);
      }
      expect(entropy).toBeCloseTo(normalisedMeanEntropy(rows), 5);
    });
    // The trunk's first convolution sees a 150x150 batch: once with all 6 blends, then 6 times one by one.
    const firstConvBatches = profile.kernels.filter((k) => k.name === 'Conv2D' && k.inputShapes[0]?.[1] === CHIP_SIZE).map((k) => k.inputShapes[0]![0]);
    expect(firstConvBatches).toEqual([6, 1, 1, 1, 1, 1, 1]);
  });

  it('reads 0 for a model that always answers one class and 1 for a model that is always unsure', async () => {
    const certain = constantTail([60, 0, 0, 0, 0]);
    const unsure = constantTail([0, 0, 0, 0, 0]);
    const options = () => ({ blends: 4, rng: seedrandom('x') });
    expect((await stripEntropies(teacher, certain, chips.slice(0, 2), chips, options()))[0]).toBeCloseTo(0, 6);
    expect((await stripEntropies(teacher, unsure, chips.slice(0, 2), chips, options()))[1]).toBeCloseTo(1, 6);
    disposeTail(certain);
    disposeTail(unsure);
  });

  it('runs part of the blends when asked, so that parts weighted by their blends give the whole', async () => {
    const reference = chips.slice(2);
    const part = (range?: [number, number]) => stripEntropies(teacher, tail, chips.slice(0, 2), reference, { blends: 5, rng: seedrandom('parts'), range });
    const [whole, first, rest] = await Promise.all([part(), part([0, 2]), part([2, 5])]);
    whole.forEach((entropy, i) => expect((2 * first[i] + 3 * rest[i]) / 5).toBeCloseTo(entropy, 5));
    await expect(part([3, 3])).rejects.toThrow(/blend range \[3, 3\) is not within the 5 blends/);
  });

  it('rejects chips that are not raw RGB of chip size', async () => {
    await expect(stripEntropies(teacher, tail, [Buffer.alloc(10)], chips, { blends: 2, rng: seedrandom('x') })).rejects.toThrow(/face 0: expected raw RGB 150x150/);
  });

  it('calibrates on the clean reference into the card section, leaving each chip out of its own blends', async () => {
    const card = await calibrateStrip(teacher, tail, chips, { blends: 4, falseRejectionRate: 0.1 });
    expect(stripCardSchema.parse(card)).toEqual(card);
    expect(card).toMatchObject({ falseRejectionRate: 0.1, blends: 4, referenceImages: chips.length, calibrationImages: chips.length, biometric: true });
    expect(card.threshold).toBeGreaterThan(0);
    expect(card.threshold).toBeLessThan(1);
    await expect(calibrateStrip(teacher, tail, chips.slice(0, 1))).rejects.toThrow(/at least 2 held-out clean chips/);
  });
});

describe('STRIP reference in the model bundle', () => {
  it('stores chips as lossless PNGs and reads back the same pixels', async () => {
    const dir = path.join(scratch, 'bundle-a');
    await saveStripReference(dir, chips);
    const loaded = await loadStripReference(dir);
    expect(loaded.length).toBe(chips.length);
    loaded.forEach((chip, i) => expect(chip.equals(chips[i])).toBe(true));
    await saveStripReference(dir, chips.slice(0, 3));
    expect((await loadStripReference(dir)).length).toBe(3);
  });

  it('renders held-out samples spread over identities, at most the cap, the same way for the same seed', async () => {
    const photos = samplePhotos();
    const validation: Sample<DatasetImage>[] = ['ann', 'ben', 'cat'].flatMap((identity, i) => [0, 1, 2].map((view) => ({
      image: { identity, condition: 'clean', file: photos[i], relPath: `${identity}/clean/${i}.jpg`, source: `${identity}/${i}` },
      view,
      label: identity,
    })));
    const candidates = await Promise.all(validation.map(async (s) => renderView(await readFile(s.image.file), s.image.source, s.view, 3, 'robust')));
    const picked = await renderStripReference(validation, 3, 'robust', 1, 4);
    const identities = picked.map((chip) => validation[candidates.findIndex((c) => c.equals(chip))].image.identity);
    expect(identities.slice(0, 3).sort()).toEqual(['ann', 'ben', 'cat']);
    expect(identities).toHaveLength(4);
    expect((await renderStripReference(validation, 3, 'robust', 1, 4)).map((c) => c.toString('base64'))).toEqual(picked.map((c) => c.toString('base64')));
    expect(await renderStripReference(validation, 3, 'robust', 1)).toHaveLength(9);
  });

  it('refuses more than 64 chips, wrong sizes, and names the folder when there is none', async () => {
    await expect(saveStripReference(path.join(scratch, 'b'), new Array(MAX_REFERENCE_CHIPS + 1).fill(chips[0]))).rejects.toThrow(/at most 64 chips/);
    await expect(saveStripReference(path.join(scratch, 'b'), [Buffer.alloc(3)])).rejects.toThrow(/reference chip 0: expected raw RGB/);
    await expect(loadStripReference(path.join(scratch, 'nowhere'))).rejects.toThrow(/nowhere\/strip-clean: no STRIP reference/);
  });
});
