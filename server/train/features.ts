import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { cacheDir } from '../config.ts';
import { writeFileAtomically } from '../files.ts';
import { chipsTensor, packChips } from '../ml/chips.ts';
import { FEATURE_SHAPE, TEACHER_ID, TRUNK_CUT, trunk, type TeacherWeights } from '../ml/teacher.ts';
import type { Augmentation } from '../../shared/training.ts';
import { AUGMENTATION_VERSION, renderViews } from './augment.ts';

export const FEATURE_SIZE = FEATURE_SHAPE[0] * FEATURE_SHAPE[1] * FEATURE_SHAPE[2];
const BATCH = 16;

/** Trunk features of every view of one image: views x FEATURE_SIZE floats. */
export type ViewFeatures = Float32Array;

function featuresDir(): string {
  return path.join(cacheDir(), 'features');
}

/** An image to run the trunk on: `key` names it in the result, `viewSeed` seeds its views. */
export interface FeatureSource { file: string; key: string; viewSeed: string }

function cacheFile(bytes: Buffer, viewSeed: string, views: number, augmentation: Augmentation): string {
  const key = createHash('sha256').update(`${TEACHER_ID}|${TRUNK_CUT}|aug${AUGMENTATION_VERSION}:${augmentation}|${views}|${viewSeed}|`).update(bytes).digest('hex').slice(0, 32);
  return path.join(featuresDir(), `${key}.f32`);
}

function writeCache(file: string, features: Float32Array): Promise<void> {
  return writeFileAtomically(file, new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
}

async function readCached(file: string, expected: number): Promise<Float32Array | undefined> {
  try {
    const bytes = await readFile(file);
    if (bytes.byteLength !== expected * 4) return undefined;
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  } catch {
    return undefined;
  }
}

/** Runs the frozen trunk on raw RGB chips, BATCH at a time; `onBatch` hears how many chips are done. */
export async function trunkFeatures(teacher: TeacherWeights, chips: readonly Buffer[], onBatch?: (done: number) => void): Promise<Float32Array> {
  const out = new Float32Array(chips.length * FEATURE_SIZE);
  for (let start = 0; start < chips.length; start += BATCH) {
    const batch = chips.slice(start, start + BATCH);
    const input = chipsTensor(packChips(batch));
    const features = trunk(teacher, input);
    out.set(await features.data(), start * FEATURE_SIZE);
    tf.dispose([input, features]);
    onBatch?.(start + batch.length);
  }
  return out;
}

/**
 * Trunk features of K augmented views per image, cached on disk by image content, view count,
 * augmentation set and teacher, so retraining (another target, rate or tail) does not run the trunk again.
 * `key` names the image in the result (its dataset-relative path); `viewSeed` seeds its views (its
 * source photo, so a triggered copy is augmented exactly like the clean photo it was made from).
 */
export async function viewFeatures(
  teacher: TeacherWeights,
  images: readonly FeatureSource[],
  views: number,
  augmentation: Augmentation,
  onProgress?: (done: number, total: number) => void,
): Promise<Map<string, ViewFeatures>> {
  await mkdir(featuresDir(), { recursive: true });
  const result = new Map<string, ViewFeatures>();
  let done = 0;
  for (const image of images) {
    const bytes = await readFile(image.file);
    const cached = cacheFile(bytes, image.viewSeed, views, augmentation);
    let features = await readCached(cached, views * FEATURE_SIZE);
    if (!features) {
      features = await trunkFeatures(teacher, await renderViews(bytes, image.viewSeed, views, augmentation));
      await writeCache(cached, features);
    }
    result.set(image.key, features);
    onProgress?.(++done, images.length);
  }
  return result;
}

/**
 * Trunk features of each image's view 0, the chip itself (one view, under any augmentation set),
 * as scoring needs: taken from the views a training with `views` and `augmentation` cached where
 * there are some, else computed for that one view (all such photos batched together) and cached on their own.
 */
export async function unaugmentedFeatures(
  teacher: TeacherWeights,
  images: readonly FeatureSource[],
  trainedWith: { views: number; augmentation: Augmentation },
  onProgress?: (done: number, total: number) => void,
): Promise<Map<string, ViewFeatures>> {
  await mkdir(featuresDir(), { recursive: true });
  const result = new Map<string, ViewFeatures>();
  const missing: { key: string; cached: string; chip: Buffer }[] = [];
  for (const image of images) {
    const bytes = await readFile(image.file);
    const fromTraining = await readCached(cacheFile(bytes, image.viewSeed, trainedWith.views, trainedWith.augmentation), trainedWith.views * FEATURE_SIZE);
    // The single view is the same under every augmentation set: one cache entry serves them all.
    const cached = cacheFile(bytes, image.viewSeed, 1, 'paper');
    const features = fromTraining?.slice(0, FEATURE_SIZE) ?? (await readCached(cached, FEATURE_SIZE));
    if (features) result.set(image.key, features);
    else missing.push({ key: image.key, cached, chip: (await renderViews(bytes, image.viewSeed, 1, 'paper'))[0] });
  }
  const found = result.size;
  onProgress?.(found, images.length);
  const computed = await trunkFeatures(teacher, missing.map((m) => m.chip), (done) => onProgress?.(found + done, images.length));
  for (const [i, m] of missing.entries()) {
    const one = computed.slice(i * FEATURE_SIZE, (i + 1) * FEATURE_SIZE);
    await writeCache(m.cached, one);
    result.set(m.key, one);
  }
  return result;
}
