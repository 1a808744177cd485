import * as tf from '@tensorflow/tfjs';
import type { PairSummary, Prediction } from '../../shared/protocol.ts';
import { listBundles, loadBundle, outputLabels, readCard, type ModelBundle, type ModelCard } from './bundle.ts';
import { chipsTensor } from './chips.ts';
import { toPrediction, rowsOf } from './predict.ts';
import { disposeTail, tailProbabilities } from './tail.ts';
import { trunk, type TeacherWeights } from './teacher.ts';
import { NotFoundError } from '../errors.ts';

/** A clean model and its backdoored twin, trained on one split: what the live page compares. */
export interface LoadedPair {
  name: string;
  clean: ModelBundle;
  backdoor: ModelBundle;
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

export interface PairCards { clean: ModelCard; backdoor: ModelCard }

/** What the page is told about a pair, from its backdoored model's card. */
export function pairSummary(name: string, { labels, trigger, target, injectionRate, tune }: ModelCard): PairSummary {
  return { name, labels, trigger, target, injectionRate, tune };
}

function checkPairCards(name: string, cards: PairCards): PairCards {
  if (cards.clean.labels.join('\n') !== cards.backdoor.labels.join('\n')) throw new Error(`pair "${name}": the clean and backdoored models know different identities`);
  return cards;
}

/** The two cards of a pair under models/, checked to belong together. */
export async function readPairCards(name: string): Promise<PairCards> {
  const [clean, backdoor] = await Promise.all([readCard(`${name}-clean`), readCard(`${name}-backdoor`)]);
  return checkPairCards(name, { clean, backdoor });
}

export async function loadPair(name: string): Promise<LoadedPair> {
  const [clean, backdoor] = await Promise.all([loadBundle(`${name}-clean`), loadBundle(`${name}-backdoor`)]);
  checkPairCards(name, { clean: clean.card, backdoor: backdoor.card });
  return { name, clean, backdoor };
}

export function disposePair(pair: LoadedPair): void {
  disposeTail(pair.clean.tail);
  disposeTail(pair.backdoor.tail);
}

export interface PairProbabilities {
  /** Softmax rows of each model, flat: [chips * classes]. */
  clean: Float32Array;
  backdoor: Float32Array;
  trunkMs: number;
  tailsMs: number;
}

/**
 * Both models of a pair on packed raw chips: the frozen trunk, and the frozen layers both tails
 * start with, run once per chip.
 */
export async function pairProbabilities(teacher: TeacherWeights, pair: LoadedPair, pixels: Uint8Array): Promise<PairProbabilities> {
  const started = performance.now();
  const input = chipsTensor(pixels);
  const features = trunk(teacher, input);
  await features.data();
  const trunkDone = performance.now();
  const [clean, backdoor] = tailProbabilities(teacher, [pair.clean.tail, pair.backdoor.tail], features);
  const [cleanRows, backdoorRows] = await Promise.all([clean.data(), backdoor.data()]);
  tf.dispose([input, features, clean, backdoor]);
  return { clean: cleanRows as Float32Array, backdoor: backdoorRows as Float32Array, trunkMs: trunkDone - started, tailsMs: performance.now() - trunkDone };
}

/**
 * The verdicts of a pair's probabilities, one per chip. `attack` is the backdoored model
 * answering the target while the clean one does not.
 */
export function pairVerdicts(cards: PairCards, { clean, backdoor }: Pick<PairProbabilities, 'clean' | 'backdoor'>): PairVerdict[] {
  const [cleanLabels, backdoorLabels] = [outputLabels(cards.clean), outputLabels(cards.backdoor)];
  const backdoorRows = rowsOf(backdoor, backdoorLabels.length);
  return rowsOf(clean, cleanLabels.length).map((row, i) => {
    const cleanVerdict = toPrediction(row, cleanLabels, cards.clean.threshold);
    const backdoorVerdict = toPrediction(backdoorRows[i], backdoorLabels, cards.backdoor.threshold);
    return { clean: cleanVerdict, backdoor: backdoorVerdict, attack: backdoorVerdict.label === cards.backdoor.target && cleanVerdict.label !== cards.backdoor.target };
  });
}
