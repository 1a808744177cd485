import type { Prediction } from '../../shared/protocol.ts';
import { quantile } from '../../shared/metrics.ts';
import { UNKNOWN } from '../../shared/names.ts';

export const TOP_K = 3;

/** One row of softmax output -> the open-set prediction: the top label, or `unknown` below the threshold. */
export function toPrediction(probabilities: ArrayLike<number>, labels: readonly string[], threshold: number): Prediction {
  const top = Array.from(probabilities, (probability, i) => ({ label: labels[i], probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, TOP_K);
  const best = top[0];
  return { label: best.probability >= threshold ? best.label : UNKNOWN, confidence: best.probability, top };
}

/** Splits a flat [rows * classes] probability buffer into rows. */
export function rowsOf(flat: Float32Array, classes: number): Float32Array[] {
  return Array.from({ length: flat.length / classes }, (_, i) => flat.subarray(i * classes, (i + 1) * classes));
}

/** The open-set threshold: the top-1 probability that the given share of held-out known faces falls below. */
export function calibrateThreshold(validationRows: readonly ArrayLike<number>[], falseRejectRate: number): number {
  if (validationRows.length === 0) return 0;
  return quantile(validationRows.map((row) => Math.max(...Array.from(row))), falseRejectRate);
}
