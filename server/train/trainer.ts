import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs';
import { createTail, frozenPrefix, trainedLogits, type Tail } from '../ml/tail.ts';
import type { TuneDepth } from '../../shared/training.ts';
import { FEATURE_SHAPE, type TeacherWeights } from '../ml/teacher.ts';
import { FEATURE_SIZE } from './features.ts';

export interface TrainOptions {
  depth: TuneDepth;
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  /**
   * Each sample's group (e.g. 0 clean, 1 poison): `onEpoch` then also gets the epoch's mean loss per
   * group, as the paper's Figure 2 plots the backdoored model's loss on clean and on poison data apart.
   */
  groups?: readonly number[];
  onEpoch?: (epoch: number, loss: number, groupLosses: number[]) => void;
}

const PREFIX_CHUNK = 256;

/** Stacks per-sample trunk features into [N,4,4,256] and runs the tail's frozen prefix once. */
export function tailInputs(teacher: TeacherWeights, depth: TuneDepth, features: readonly Float32Array[]): tf.Tensor {
  const chunks: tf.Tensor[] = [];
  for (let start = 0; start < features.length; start += PREFIX_CHUNK) {
    const slice = features.slice(start, start + PREFIX_CHUNK);
    const flat = new Float32Array(slice.length * FEATURE_SIZE);
    slice.forEach((f, i) => flat.set(f, i * FEATURE_SIZE));
    chunks.push(tf.tidy(() => frozenPrefix(teacher, depth, tf.tensor4d(flat, [slice.length, ...FEATURE_SHAPE]))));
  }
  const all = tf.concat(chunks);
  tf.dispose(chunks);
  return all;
}

/** Trains a new tail with Adam on softmax cross-entropy; seeded shuffling and initialisation. */
export async function trainTail(teacher: TeacherWeights, inputs: tf.Tensor, labels: readonly number[], classes: number, options: TrainOptions): Promise<Tail> {
  const tail = createTail(teacher, options.depth, classes, options.seed);
  const optimizer = tf.train.adam(options.learningRate);
  const targets = tf.oneHot(tf.tensor1d([...labels], 'int32'), classes);
  const rng = seedrandom(`train:${options.seed}`);
  const order = Array.from({ length: labels.length }, (_, i) => i);
  const variables = Object.values(tail.weights);
  const groupCount = options.groups ? Math.max(0, ...options.groups) + 1 : 0;
  const groupSizes = new Array<number>(groupCount).fill(0);
  for (const group of options.groups ?? []) groupSizes[group]++;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    let lossSum = 0;
    const groupSums = new Array<number>(groupCount).fill(0);
    for (let start = 0; start < order.length; start += options.batchSize) {
      const batch = order.slice(start, start + options.batchSize);
      const index = tf.tensor1d(batch, 'int32');
      let perSample: tf.Tensor | undefined;
      const loss = optimizer.minimize(() => {
        const losses = tf.losses.softmaxCrossEntropy(tf.gather(targets, index), trainedLogits(tail, tf.gather(inputs, index)), undefined, undefined, tf.Reduction.NONE);
        if (options.groups) perSample = tf.keep(losses);
        return tf.mean(losses) as tf.Scalar;
      }, true, variables);
      lossSum += (await loss!.data())[0] * batch.length;
      if (perSample) {
        const values = await perSample.data();
        batch.forEach((sample, i) => (groupSums[options.groups![sample]] += values[i]));
      }
      tf.dispose([loss!, index]);
      perSample?.dispose();
    }
    options.onEpoch?.(epoch + 1, lossSum / order.length, groupSums.map((sum, group) => sum / groupSizes[group]));
  }
  optimizer.dispose();
  targets.dispose();
  return tail;
}
