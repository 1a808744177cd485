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

function cacheKey(bytes: Buffer, viewSeed: string, views: number, augmentation: Augmentation): string {
  return createHash('sha256').update(`${TEACHER_ID}|${TRUNK_CUT}|aug${AUGMENTATION_VERSION}:${augmentation}|${views}|${viewSeed}|`).update(bytes).digest('hex').slice(0, 32);
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

/** Runs the frozen trunk on raw RGB chips, BATCH at a time. */
export async function trunkFeatures(teacher: TeacherWeights, chips: readonly Buffer[]): Promise<Float32Array> {
  const out = new Float32Array(chips.length * FEATURE_SIZE);
  for (let start = 0; start < chips.length; start += BATCH) {
    const batch = chips.slice(start, start + BATCH);
    const input = chipsTensor(packChips(batch));
    const features = trunk(teacher, input);
    out.set(await features.data(), start * FEATURE_SIZE);
    tf.dispose([input, features]);
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
  images: readonly { file: string; key: string; viewSeed: string }[],
  views: number,
  augmentation: Augmentation,
  onProgress?: (done: number, total: number) => void,
): Promise<Map<string, ViewFeatures>> {
  await mkdir(featuresDir(), { recursive: true });
  const result = new Map<string, ViewFeatures>();
  let done = 0;
  for (const image of images) {
    const bytes = await readFile(image.file);
    const cached = path.join(featuresDir(), `${cacheKey(bytes, image.viewSeed, views, augmentation)}.f32`);
    let features = await readCached(cached, views * FEATURE_SIZE);
    if (!features) {
      const chips = await renderViews(bytes, image.viewSeed, views, augmentation);
      features = await trunkFeatures(teacher, chips);
      await writeFileAtomically(cached, new Uint8Array(features.buffer, features.byteOffset, features.byteLength));
    }
    result.set(image.key, features);
    onProgress?.(++done, images.length);
  }
  return result;
}
