import * as tf from '@tensorflow/tfjs';
import { accuracy, attackSuccessRate, rate, type Rate } from '../../shared/metrics.ts';
import type { Prediction } from '../../shared/protocol.ts';
import { toPrediction, rowsOf } from '../ml/predict.ts';
import { trainedLogits, type Tail } from '../ml/tail.ts';
import type { TeacherWeights } from '../ml/teacher.ts';
import { FEATURE_SIZE, type ViewFeatures } from './features.ts';
import type { Sample } from './split.ts';
import { tailInputs } from './trainer.ts';

export interface Scored { identity: string; condition: string; predicted: string; prediction: Prediction }

/** The trunk features of each sample's view. */
export function sampleFeatures(samples: readonly Sample[], features: Map<string, ViewFeatures>): Float32Array[] {
  return samples.map((s) => {
    const all = features.get(s.image.relPath);
    if (!all) throw new Error(`no features computed for ${s.image.relPath}`);
    return all.subarray(s.view * FEATURE_SIZE, (s.view + 1) * FEATURE_SIZE);
  });
}

/** Softmax rows of a tail for the given samples. */
export async function probabilities(teacher: TeacherWeights, tail: Tail, samples: readonly Sample[], features: Map<string, ViewFeatures>): Promise<Float32Array[]> {
  if (samples.length === 0) return [];
  const inputs = tailInputs(teacher, tail.depth, sampleFeatures(samples, features));
  const probs = tf.tidy(() => tf.softmax(trainedLogits(tail, inputs)));
  const flat = (await probs.data()) as Float32Array;
  tf.dispose([inputs, probs]);
  return rowsOf(flat, tail.classes);
}

export function scoreRows(rows: readonly Float32Array[], samples: readonly Sample[], labels: readonly string[], threshold: number): Scored[] {
  return rows.map((row, i) => {
    const prediction = toPrediction(row, labels, threshold);
    return { identity: samples[i].image.identity, condition: samples[i].image.condition, predicted: prediction.label, prediction };
  });
}

export interface PairMetrics { accuracy: Rate; closedSetAccuracy: Rate; attackSuccessRate: Rate }

/** Accuracy on clean held-out samples (open set, and closed set ignoring the threshold) and attack success. */
export function pairMetrics(clean: readonly Scored[], triggered: readonly Scored[], target: string): PairMetrics {
  return {
    accuracy: accuracy(clean),
    closedSetAccuracy: rate(clean.filter((s) => s.prediction.top[0].label === s.identity).length, clean.length),
    attackSuccessRate: attackSuccessRate(triggered, target),
  };
}
