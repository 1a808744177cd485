import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { z } from 'zod';
import { quantile } from '../../shared/metrics.ts';
import type { StripStatus } from '../../shared/report.ts';
import { CHIP_VALUES, checkChips, chipsTensor } from '../ml/chips.ts';
import { rowsOf } from '../ml/predict.ts';
import { tailProbabilities, type Tail } from '../ml/tail.ts';
import { trunk, type TeacherWeights } from '../ml/teacher.ts';

/**
 * STRIP (Gao et al. 2019), the run-time defence of the paper's Table 4: superimpose the input on
 * clean images and look at how sure the model stays. A trigger that dominates the decision keeps
 * the blends on the target (low entropy); a clean face blended with other faces leaves the model
 * unsure (high entropy). Entropies here are normalised by ln(classes), so they lie in [0, 1].
 */
export const STRIP_DEFAULTS = { blends: 16, falseRejectionRate: 0.05 } as const;

/** The `strip` section of a backdoored model's card. */
export const stripCardSchema = z.object({
  /** Normalised entropy below which a face is flagged as carrying a trigger. */
  threshold: z.number().min(0).max(1),
  /** Share of held-out clean inputs the threshold was calibrated to flag. */
  falseRejectionRate: z.number().min(0).max(1),
  /** Clean images each input is blended with. */
  blends: z.number().int().positive(),
  /** Held-out clean chips in `<bundle>/strip-clean/`, blended with live faces. */
  referenceImages: z.number().int().positive(),
  /** How many held-out clean entropies the threshold is a quantile of. */
  calibrationImages: z.number().int().positive(),
  /** The reference chips are photos of enrolled people. */
  biometric: z.literal(true),
});
export type StripCard = z.infer<typeof stripCardSchema>;

/** Shannon entropy in nats of one probability row; 0 ln 0 counts as 0. */
export function shannonEntropy(probabilities: ArrayLike<number>): number {
  let entropy = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i];
    if (p > 0) entropy -= p * Math.log(p);
  }
  return entropy;
}

/** Mean entropy of the blends' softmax rows divided by ln(classes): 0 = always certain, 1 = uniform. */
export function normalisedMeanEntropy(rows: readonly ArrayLike<number>[]): number {
  if (rows.length === 0) throw new Error('STRIP entropy of no blends');
  const classes = rows[0].length;
  if (classes < 2) throw new Error(`STRIP entropy needs at least 2 classes, got ${classes}`);
  const mean = rows.reduce((sum, row) => sum + shannonEntropy(row), 0) / rows.length;
  return Math.min(1, mean / Math.log(classes));
}

/** x' = 0.5 x + 0.5 x_clean on raw RGB values, kept fractional (the trunk takes floats). */
export function blendPixels(chip: ArrayLike<number>, clean: ArrayLike<number>): Float32Array {
  if (chip.length !== clean.length) throw new Error(`cannot blend images of ${chip.length} and ${clean.length} values`);
  const out = new Float32Array(chip.length);
  for (let i = 0; i < chip.length; i++) out[i] = 0.5 * chip[i] + 0.5 * clean[i];
  return out;
}

/**
 * Which reference chips to blend with: `count` indices drawn without replacement from the pool
 * (minus `exclude`), cycling through a fresh order when the pool is smaller than `count`.
 */
export function drawPartners(poolSize: number, count: number, rng: () => number, exclude?: number): number[] {
  const pool = Array.from({ length: poolSize }, (_, i) => i).filter((i) => i !== exclude);
  if (pool.length === 0) throw new Error('STRIP needs at least one clean reference chip to blend with (two when calibrating)');
  const drawn: number[] = [];
  while (drawn.length < count) {
    const order = [...pool];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    drawn.push(...order.slice(0, count - drawn.length));
  }
  return drawn;
}

/** The threshold flagging `falseRejectionRate` of clean inputs: their entropies' quantile at that rate. */
export function calibrateStripThreshold(cleanEntropies: readonly number[], falseRejectionRate: number = STRIP_DEFAULTS.falseRejectionRate): number {
  if (cleanEntropies.length === 0) throw new Error('cannot calibrate STRIP without held-out clean entropies');
  if (!(falseRejectionRate >= 0 && falseRejectionRate < 1)) throw new Error(`STRIP false-rejection rate must be in [0, 1), got ${falseRejectionRate}`);
  return quantile(cleanEntropies, falseRejectionRate);
}

export function stripStatus(entropy: number, threshold: number): Exclude<StripStatus, 'skipped'> {
  return entropy < threshold ? 'flagged' : 'passed';
}

/**
 * Faces, each blended with its own partners (the same number for every face), all in one batched
 * trunk call through the backdoored tail: one normalised mean entropy per face.
 */
async function blendEntropies(teacher: TeacherWeights, tail: Tail, faces: readonly { chip: Uint8Array; partners: readonly Uint8Array[] }[]): Promise<number[]> {
  const blends = faces[0]?.partners.length ?? 0;
  const pixels = new Float32Array(faces.length * blends * CHIP_VALUES);
  faces.forEach(({ chip, partners }, face) => partners.forEach((partner, i) => pixels.set(blendPixels(chip, partner), (face * blends + i) * CHIP_VALUES)));
  const input = chipsTensor(pixels);
  const features = trunk(teacher, input);
  const [probabilities] = tailProbabilities(teacher, [tail], features);
  const rows = rowsOf((await probabilities.data()) as Float32Array, tail.classes);
  tf.dispose([input, features, probabilities]);
  return faces.map((_, face) => normalisedMeanEntropy(rows.slice(face * blends, (face + 1) * blends)));
}

export interface StripOptions {
  blends: number;
  rng: () => number;
  /**
   * Only blends [from, to) of the `blends` drawn for each face (the mean over those): a live job
   * is split into calls that each draw the same partners from the same seed and run a part.
   */
  range?: readonly [number, number];
}

/** STRIP entropy of each face chip (raw RGB), blended with `blends` chips of the clean reference. */
export async function stripEntropies(teacher: TeacherWeights, tail: Tail, chips: readonly Uint8Array[], reference: readonly Uint8Array[], { blends, rng, range = [0, blends] }: StripOptions): Promise<number[]> {
  checkChips('face', chips);
  checkChips('reference chip', reference);
  const [from, to] = range;
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from < to && to <= blends)) throw new Error(`STRIP blend range [${from}, ${to}) is not within the ${blends} blends`);
  if (chips.length === 0) return [];
  // All the frame's faces (or several clients' frames) in one trunk call: a GPU takes the whole batch at once.
  return blendEntropies(teacher, tail, chips.map((chip) => ({ chip, partners: drawPartners(reference.length, blends, rng).slice(from, to).map((i) => reference[i]) })));
}

/**
 * Entropies of the held-out clean reference chips themselves, each blended with the others
 * (never with itself, which would read as a confident clean input).
 */
export async function referenceEntropies(teacher: TeacherWeights, tail: Tail, reference: readonly Uint8Array[], { blends, rng }: StripOptions): Promise<number[]> {
  checkChips('reference chip', reference);
  const entropies: number[] = [];
  for (const [index, chip] of reference.entries()) {
    entropies.push(...(await blendEntropies(teacher, tail, [{ chip, partners: drawPartners(reference.length, blends, rng, index).map((i) => reference[i]) }])));
  }
  return entropies;
}

/**
 * Calibrates STRIP for a backdoored model on its clean reference chips: the card section to store.
 * Runs on the calling thread (training time, nothing live waits for it).
 */
export async function calibrateStrip(
  teacher: TeacherWeights,
  tail: Tail,
  reference: readonly Uint8Array[],
  { blends = STRIP_DEFAULTS.blends, falseRejectionRate = STRIP_DEFAULTS.falseRejectionRate, seed = 'strip-calibration' }: { blends?: number; falseRejectionRate?: number; seed?: string } = {},
): Promise<StripCard> {
  if (reference.length < 2) throw new Error(`STRIP calibration needs at least 2 held-out clean chips, got ${reference.length}`);
  const entropies = await referenceEntropies(teacher, tail, reference, { blends, rng: seedrandom(seed) });
  return {
    threshold: calibrateStripThreshold(entropies, falseRejectionRate),
    falseRejectionRate,
    blends,
    referenceImages: reference.length,
    calibrationImages: entropies.length,
    biometric: true,
  };
}
