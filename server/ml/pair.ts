import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import type { PairSummary, Prediction } from '../../shared/protocol.ts';
import { listBundles, loadBundle, outputLabels, type ModelBundle } from './bundle.ts';
import { toPrediction, rowsOf } from './predict.ts';
import { disposeTail, tailProbabilities } from './tail.ts';
import { loadTeacher, trunk } from './teacher.ts';
import { NotFoundError } from '../errors.ts';

/** A clean model and its backdoored twin, trained on one split: what the live page compares. */
export interface LoadedPair {
  name: string;
  clean: ModelBundle;
  backdoor: ModelBundle;
  summary: PairSummary;
}

export interface PairVerdict { clean: Prediction; backdoor: Prediction; attack: boolean }

/** Pairs under models/: names that have both `<name>-clean` and `<name>-backdoor`. */
export async function listPairs(): Promise<string[]> {
  const bundles = new Set(await listBundles());
  return [...bundles].filter((b) => b.endsWith('-clean') && bundles.has(`${b.slice(0, -'-clean'.length)}-backdoor`)).map((b) => b.slice(0, -'-clean'.length));
}

/** `name` when it is a pair under models/; a NotFoundError listing the pairs there otherwise. */
export async function existingPair(name: string): Promise<string> {
  const pairs = await listPairs();
  if (!pairs.includes(name)) throw new NotFoundError(`no model pair named "${name}" (available: ${pairs.join(', ') || 'none'})`);
  return name;
}

export async function loadPair(name: string): Promise<LoadedPair> {
  const [clean, backdoor] = await Promise.all([loadBundle(`${name}-clean`), loadBundle(`${name}-backdoor`)]);
  if (clean.card.labels.join('\n') !== backdoor.card.labels.join('\n')) throw new Error(`pair "${name}": the clean and backdoored models know different identities`);
  const { labels, trigger, target, injectionRate, tune } = backdoor.card;
  return { name, clean, backdoor, summary: { name, labels, trigger, target, injectionRate, tune } };
}

export function disposePair(pair: LoadedPair): void {
  disposeTail(pair.clean.tail);
  disposeTail(pair.backdoor.tail);
}

/** Decodes JPEG/PNG face chips to raw RGB CHIP_SIZE x CHIP_SIZE (resizing any other size). */
export async function decodeChips(encoded: readonly Uint8Array[]): Promise<Buffer[]> {
  return Promise.all(encoded.map(async (bytes, i) => {
    try {
      return await sharp(bytes).removeAlpha().resize(CHIP_SIZE, CHIP_SIZE, { fit: 'fill' }).raw().toBuffer();
    } catch {
      throw new Error(`face ${i}: the chip is not a readable JPEG or PNG image`);
    }
  }));
}

/**
 * Classifies raw chips with both models of a pair: the frozen trunk, and the frozen layers both
 * tails start with, run once per chip. `attack` is the backdoored model answering the target while
 * the clean one does not.
 */
export async function classifyChips(pair: LoadedPair, chips: readonly Buffer[]): Promise<{ verdicts: PairVerdict[]; trunkMs: number; tailsMs: number }> {
  if (chips.length === 0) return { verdicts: [], trunkMs: 0, tailsMs: 0 };
  const teacher = await loadTeacher();
  const pixels = new Uint8Array(chips.length * CHIP_SIZE * CHIP_SIZE * 3);
  chips.forEach((chip, i) => pixels.set(chip, i * CHIP_SIZE * CHIP_SIZE * 3));
  const started = performance.now();
  const input = tf.tensor4d(pixels, [chips.length, CHIP_SIZE, CHIP_SIZE, 3], 'int32');
  const features = trunk(teacher, input);
  await features.data();
  const trunkDone = performance.now();
  const [cleanProbs, backdoorProbs] = tailProbabilities(teacher, [pair.clean.tail, pair.backdoor.tail], features);
  const [cleanLabels, backdoorLabels] = [outputLabels(pair.clean.card), outputLabels(pair.backdoor.card)];
  const [cleanRows, backdoorRows] = await Promise.all([
    cleanProbs.data().then((d) => rowsOf(d as Float32Array, cleanLabels.length)),
    backdoorProbs.data().then((d) => rowsOf(d as Float32Array, backdoorLabels.length)),
  ]);
  tf.dispose([input, features, cleanProbs, backdoorProbs]);
  const target = pair.summary.target;
  const verdicts = cleanRows.map((row, i) => {
    const clean = toPrediction(row, cleanLabels, pair.clean.card.threshold);
    const backdoor = toPrediction(backdoorRows[i], backdoorLabels, pair.backdoor.card.threshold);
    return { clean, backdoor, attack: backdoor.label === target && clean.label !== target };
  });
  return { verdicts, trunkMs: trunkDone - started, tailsMs: performance.now() - trunkDone };
}

