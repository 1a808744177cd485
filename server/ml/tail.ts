import * as tf from '@tensorflow/tfjs';
import { FEATURE_SHAPE, residual, residualDown, teacherConv, type ConvLayer, type TeacherWeights } from './teacher.ts';
import { trainableConv2d } from './trainableConv.ts';

/**
 * How much of the teacher is retrained, deepest last:
 * - `head`: a new softmax on the teacher's 128-d descriptor;
 * - `fc`: the 256->128 layer and the softmax (the paper's "last two layers");
 * - `block`: the last residual block on the 4x4x256 map, the fc layer and the softmax;
 * - `deep`: the last three residual blocks, the fc layer and the softmax;
 * - `map`: a new softmax straight on the flattened 4x4x256 map, which keeps where on the face a
 *   feature is (the teacher's global average pooling throws that away).
 */
export const TUNE_DEPTHS = ['head', 'fc', 'block', 'deep', 'map'] as const;
export type TuneDepth = (typeof TUNE_DEPTHS)[number];

const POSITIONS = FEATURE_SHAPE[0] * FEATURE_SHAPE[1];
const CHANNELS = FEATURE_SHAPE[2];
const DESCRIPTOR_SIZE = 128;

type Stage = 'conv256_1' | 'conv256_2' | 'conv256_down_out' | 'fc' | 'classifier';
const TRAINED_STAGES: Record<TuneDepth, Stage[]> = {
  head: ['classifier'],
  fc: ['fc', 'classifier'],
  block: ['conv256_down_out', 'fc', 'classifier'],
  deep: ['conv256_1', 'conv256_2', 'conv256_down_out', 'fc', 'classifier'],
  map: ['classifier'],
};

export interface Tail {
  depth: TuneDepth;
  classes: number;
  /** The trained parameters, by name; everything else comes frozen from the teacher. */
  weights: Record<string, tf.Variable>;
}

/** A teacher convolution with its scale layer folded in: filters [k,k,in,out] and bias [out]. */
function foldedConv(w: TeacherWeights, prefix: string): Record<string, tf.Tensor> {
  return tf.tidy(() => {
    const scale = w[`${prefix}/scale/weights`];
    return {
      [`${prefix}/filters`]: tf.mul(w[`${prefix}/conv/filters`], scale),
      [`${prefix}/bias`]: tf.add(tf.mul(w[`${prefix}/conv/bias`], scale), w[`${prefix}/scale/biases`]),
    };
  });
}

/** Convolutions with trained (folded) weights, differentiable on every backend. */
function trainedConv(w: Record<string, tf.Tensor>): ConvLayer {
  return (prefix, x, { stride, padding }) =>
    tf.add(trainableConv2d(x, w[`${prefix}/filters`] as tf.Tensor4D, stride, padding), w[`${prefix}/bias`]);
}

/** A new tail initialised from the teacher (its own layers) and a seeded random classifier. */
export function createTail(teacher: TeacherWeights, depth: TuneDepth, classes: number, seed: number): Tail {
  const initial: Record<string, tf.Tensor> = {};
  for (const stage of TRAINED_STAGES[depth]) {
    if (stage === 'fc') initial.fc = tf.clone(teacher.fc);
    else if (stage === 'classifier') {
      const inputs = depth === 'map' ? POSITIONS * CHANNELS : DESCRIPTOR_SIZE;
      initial['classifier/kernel'] = tf.mul(tf.randomNormal([inputs, classes], 0, 1, 'float32', seed), Math.sqrt(1 / inputs));
      initial['classifier/bias'] = tf.zeros([classes]);
    } else Object.assign(initial, foldedConv(teacher, `${stage}/conv1`), foldedConv(teacher, `${stage}/conv2`));
  }
  return { depth, classes, weights: variablesOf(initial) };
}

/** Names and shapes of the weights a tail of this depth trains, as `createTail` makes them. */
export function tailWeightShapes(depth: TuneDepth, classes: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const stage of TRAINED_STAGES[depth]) {
    if (stage === 'fc') shapes.fc = [CHANNELS, DESCRIPTOR_SIZE];
    else if (stage === 'classifier') {
      shapes['classifier/kernel'] = [depth === 'map' ? POSITIONS * CHANNELS : DESCRIPTOR_SIZE, classes];
      shapes['classifier/bias'] = [classes];
    } else {
      for (const conv of ['conv1', 'conv2']) {
        shapes[`${stage}/${conv}/filters`] = [3, 3, CHANNELS, CHANNELS];
        shapes[`${stage}/${conv}/bias`] = [CHANNELS];
      }
    }
  }
  return shapes;
}

export function variablesOf(tensors: Record<string, tf.Tensor>): Record<string, tf.Variable> {
  return Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tf.variable(t, true, undefined)]));
}

/**
 * The frozen part of the tail, run with real convolutions: trunk features [B,4,4,256] -> the
 * input of the first trained stage. Training computes it once per image view, not every epoch.
 */
export function frozenPrefix(teacher: TeacherWeights, depth: TuneDepth, features: tf.Tensor4D): tf.Tensor {
  const layer = teacherConv(teacher);
  return tf.tidy(() => {
    const first = TRAINED_STAGES[depth][0];
    if (first === 'conv256_1') return features;
    let out = residual(layer, 'conv256_1', features);
    out = residual(layer, 'conv256_2', out);
    if (depth === 'map') return tf.reshape(out, [out.shape[0], POSITIONS * CHANNELS]);
    if (first === 'conv256_down_out') return out;
    const pooled = tf.mean(residualDown(layer, 'conv256_down_out', out), [1, 2]);
    return first === 'fc' ? pooled : tf.matMul(pooled as tf.Tensor2D, teacher.fc as tf.Tensor2D);
  });
}

/** The trained part of the tail: output of `frozenPrefix` -> class logits [B, classes]. */
export function trainedLogits(tail: Tail, input: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const w = tail.weights;
    const layer = trainedConv(w);
    const stages = TRAINED_STAGES[tail.depth];
    let out: tf.Tensor = input;
    if (stages.includes('conv256_1')) out = residual(layer, 'conv256_2', residual(layer, 'conv256_1', out as tf.Tensor4D));
    if (stages.includes('conv256_down_out')) out = tf.mean(residualDown(layer, 'conv256_down_out', out as tf.Tensor4D), [1, 2]);
    if (stages.includes('fc')) out = tf.matMul(out as tf.Tensor2D, w.fc as tf.Tensor2D);
    return tf.add(tf.matMul(out as tf.Tensor2D, w['classifier/kernel'] as tf.Tensor2D), w['classifier/bias']) as tf.Tensor2D;
  });
}

/** Trunk features [B,4,4,256] -> class probabilities [B, classes]. */
export function tailProbabilities(teacher: TeacherWeights, tail: Tail, features: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(trainedLogits(tail, frozenPrefix(teacher, tail.depth, features))));
}

export function disposeTail(tail: Tail): void {
  for (const v of Object.values(tail.weights)) v.dispose();
}
