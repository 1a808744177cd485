import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { checkName, UNKNOWN } from '../../shared/names.ts';
import { AUGMENTATIONS } from '../../shared/training.ts';
import { stripCardSchema } from '../defense/strip.ts';
import { modelsDir } from '../config.ts';
import { exists, writeFileAtomically } from '../files.ts';
import { TUNE_DEPTHS } from '../../shared/training.ts';
import { tailWeightShapes, variablesOf, type Tail } from './tail.ts';
import { describeIssues } from '../errors.ts';

const rateSchema = z.object({ hits: z.number(), total: z.number(), value: z.number().nullable(), low: z.number(), high: z.number() });

/** `card.json`: everything a reader needs to know about a model bundle, next to its tail weights. */
export const modelCardSchema = z.object({
  name: z.string(),
  pair: z.string(),
  role: z.enum(['clean', 'backdoor']),
  labels: z.array(z.string()).min(2),
  trigger: z.string(),
  target: z.string(),
  injectionRate: z.number(),
  tune: z.enum(TUNE_DEPTHS),
  teacher: z.string(),
  /** Synthetic strangers trained as an extra `unknown` output class (0: none). */
  syntheticStrangers: z.number().int().nonnegative(),
  /** Whether part of the poison was triggered synthetic strangers (backdoored models). */
  poisonStrangers: z.boolean().default(false),
  /** Top-1 probability below which the model answers `unknown`. */
  threshold: z.number(),
  /** The share of held-out known faces the threshold was set to reject. */
  falseRejectRate: z.number(),
  metrics: z.object({ accuracy: rateSchema, attackSuccessRate: rateSchema, closedSetAccuracy: rateSchema }),
  training: z.object({
    epochs: z.number(),
    learningRate: z.number(),
    batchSize: z.number(),
    seed: z.number(),
    views: z.number(),
    /** Cards written before augmentation sets existed were trained on the paper's views. */
    augment: z.enum(AUGMENTATIONS).default('paper'),
    splitUnit: z.enum(['photo', 'view']),
    trainImages: z.number(),
    poisonImages: z.number(),
    lookalikeAccessories: z.array(z.string()),
  }),
  dataset: z.object({ name: z.string(), hash: z.string() }),
  createdAt: z.string(),
  notes: z.array(z.string()),
  /** Backdoored models: the STRIP run-time defence calibrated for them (their clean reference chips are biometric data). */
  strip: stripCardSchema.optional(),
  weights: z.object({ file: z.string(), specs: z.array(z.object({ name: z.string(), shape: z.array(z.number()), dtype: z.string() })) }),
});
export type ModelCard = z.infer<typeof modelCardSchema>;

/** The model's output classes: the enrolled identities, then `unknown` when it was trained on strangers. */
export function outputLabels(card: Pick<ModelCard, 'labels' | 'syntheticStrangers'>): string[] {
  return card.syntheticStrangers > 0 ? [...card.labels, UNKNOWN] : [...card.labels];
}

export interface ModelBundle { card: ModelCard; tail: Tail }

const WEIGHTS_FILE = 'tail.bin';

export function bundleDir(name: string): string {
  return path.join(modelsDir(), checkName('model', name));
}

/**
 * Writes `models/<name>/` atomically: a reader never sees a card without its weights.
 * `writeExtras` adds files (e.g. the STRIP reference) to the bundle before it is moved into place.
 */
export async function saveBundle(card: Omit<ModelCard, 'weights'>, tail: Tail, writeExtras?: (stagingDir: string) => Promise<void>): Promise<string> {
  const dir = bundleDir(card.name);
  const { data, specs } = await tf.io.encodeWeights(tail.weights);
  const full: ModelCard = modelCardSchema.parse({ ...card, weights: { file: WEIGHTS_FILE, specs: specs.map(({ name, shape, dtype }) => ({ name, shape, dtype })) } });
  const staging = `${dir}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(path.join(staging, WEIGHTS_FILE), Buffer.from(data as ArrayBuffer));
  await writeFile(path.join(staging, 'card.json'), `${JSON.stringify(full, null, 2)}\n`);
  await writeExtras?.(staging);
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  return dir;
}

/** Replaces a bundle's card (its weights unchanged), atomically. */
export async function writeCard(card: ModelCard): Promise<void> {
  const file = path.join(bundleDir(card.name), 'card.json');
  await writeFileAtomically(file, `${JSON.stringify(modelCardSchema.parse(card), null, 2)}\n`);
}

export async function readCard(name: string): Promise<ModelCard> {
  const file = path.join(bundleDir(name), 'card.json');
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch {
    throw new Error(`model "${name}" not found (no ${file})`);
  }
  const parsed = modelCardSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`${file} is not a valid model card: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export async function loadBundle(name: string): Promise<ModelBundle> {
  const card = await readCard(name);
  const bytes = await readFile(path.join(bundleDir(name), card.weights.file));
  const { tensors, classes } = decodeTailWeights(name, card, bytes);
  return { card, tail: { depth: card.tune, classes, weights: variablesOf(tensors) } };
}

/**
 * The tail weights of a bundle from the bytes of its weights file, checked against the shapes its
 * card's tail depth and classes call for; throws (leaking no tensors) when they do not fit.
 */
export function decodeTailWeights(name: string, card: ModelCard, bytes: Uint8Array): { tensors: tf.NamedTensorMap; classes: number } {
  let tensors: tf.NamedTensorMap;
  try {
    // tidy disposes the tensors decoded before a failure.
    tensors = tf.tidy(() => tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, card.weights.specs as tf.io.WeightsManifestEntry[]));
  } catch (error) {
    throw new Error(`model "${name}": its weights file does not match its card (${(error as Error).message}); it was written by another version of this project: retrain it`);
  }
  const classes = outputLabels(card).length;
  const expected = Object.entries(tailWeightShapes(card.tune, classes));
  const mismatch = expected.find(([weight, shape]) => tensors[weight]?.shape.join('x') !== shape.join('x'));
  if (mismatch || Object.keys(tensors).length !== expected.length) {
    tf.dispose(Object.values(tensors));
    throw new Error(`model "${name}": its weights do not fit a "${card.tune}" tail with ${classes} classes${mismatch ? ` (${mismatch[0]})` : ''}; it was written by another version of this project: retrain it`);
  }
  return { tensors, classes };
}

/** Names of the bundles under models/, sorted. */
export async function listBundles(): Promise<string[]> {
  const entries = await readdir(modelsDir(), { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.includes('.tmp-')) continue;
    if (await exists(path.join(modelsDir(), entry.name, 'card.json'))) names.push(entry.name);
  }
  return names.sort();
}
