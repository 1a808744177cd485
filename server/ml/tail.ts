import * as tf from '@tensorflow/tfjs';
import { FEATURE_SHAPE, residual, residualDown, teacherConv, teacherHead, type ConvLayer, type TeacherWeights } from './teacher.ts';
import { trainableConv2d } from './trainableConv.ts';
import type { TuneDepth } from '../../shared/training.ts';


/** The 4x4x256 map after `conv256_down`, where the teacher's last residual blocks work. */
const MAP_SIZE = 4 * 4 * 256;
const CHANNELS = 256;
const TRUNK_SIZE = FEATURE_SHAPE[0] * FEATURE_SHAPE[1] * FEATURE_SHAPE[2];
const DESCRIPTOR_SIZE = 128;
/** Filters of the `spot` convolution. */
const SPOT_FILTERS = 16;

type Stage = 'conv256_1' | 'conv256_2' | 'conv256_down_out' | 'fc' | 'spot' | 'classifier';
const TRAINED_STAGES: Record<TuneDepth, Stage[]> = {
  head: ['classifier'],
  fc: ['fc', 'classifier'],
  block: ['conv256_down_out', 'fc', 'classifier'],
  deep: ['conv256_1', 'conv256_2', 'conv256_down_out', 'fc', 'classifier'],
  map: ['classifier'],
  spot: ['spot', 'classifier'],
};

/** Tails whose softmax reads the 4x4x256 map itself rather than a pooled vector. */
const readsMap = (depth: TuneDepth) => depth === 'map' || depth === 'spot';

export interface Tail {
  depth: TuneDepth;
  classes: number;
  /** The trained parameters, by name; everything else comes frozen from the teacher. */
  weights: Record<string, tf.Variable>;
}

/** A teacher convolution's filters or bias with its scale layer folded in (`<layer>/filters`, `<layer>/bias`). */
function foldedTeacherWeight(w: TeacherWeights, name: string): tf.Tensor {
  const layer = name.slice(0, name.lastIndexOf('/'));
  return tf.tidy(() => {
    const scale = w[`${layer}/scale/weights`];
    return name.endsWith('/filters')
      ? tf.mul(w[`${layer}/conv/filters`], scale)
      : tf.add(tf.mul(w[`${layer}/conv/bias`], scale), w[`${layer}/scale/biases`]);
  });
}

/** New (not teacher) weights drawn at random: seed offset and gain of a He-style normal initialisation. */
const RANDOM_WEIGHTS: Record<string, { seedOffset: number; gain: number }> = {
  'classifier/kernel': { seedOffset: 0, gain: 1 },
  'spot/filters': { seedOffset: 1, gain: 2 },
  'spot/kernel': { seedOffset: 2, gain: 1 },
};
const ZERO_WEIGHTS = new Set(['classifier/bias', 'spot/bias']);

/** Convolutions with trained (folded) weights, differentiable on every backend. */
function trainedConv(w: Record<string, tf.Tensor>): ConvLayer {
  return (prefix, x, { stride, padding }) =>
    tf.add(trainableConv2d(x, w[`${prefix}/filters`] as tf.Tensor4D, stride, padding), w[`${prefix}/bias`]);
}

/** A new tail initialised from the teacher (its own layers) and a seeded random classifier. */
export function createTail(teacher: TeacherWeights, depth: TuneDepth, classes: number, seed: number): Tail {
  const initial: Record<string, tf.Tensor> = {};
  for (const [name, shape] of Object.entries(tailWeightShapes(depth, classes))) {
    const random = RANDOM_WEIGHTS[name];
    if (name === 'fc') initial.fc = tf.clone(teacher.fc);
    else if (ZERO_WEIGHTS.has(name)) initial[name] = tf.zeros(shape);
    else if (random) {
      const fanIn = shape.slice(0, -1).reduce((product, size) => product * size, 1);
      initial[name] = tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed + random.seedOffset), Math.sqrt(random.gain / fanIn)));
    } else initial[name] = foldedTeacherWeight(teacher, name);
  }
  return { depth, classes, weights: variablesOf(initial) };
}

/** Names and shapes of the weights a tail of this depth trains (what `createTail` makes and a bundle must hold). */
export function tailWeightShapes(depth: TuneDepth, classes: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const stage of TRAINED_STAGES[depth]) {
    if (stage === 'fc') shapes.fc = [CHANNELS, DESCRIPTOR_SIZE];
    else if (stage === 'classifier') {
      shapes['classifier/kernel'] = [readsMap(depth) ? MAP_SIZE : DESCRIPTOR_SIZE, classes];
      shapes['classifier/bias'] = [classes];
    } else if (stage === 'spot') {
      shapes['spot/filters'] = [3, 3, FEATURE_SHAPE[2], SPOT_FILTERS];
      shapes['spot/bias'] = [SPOT_FILTERS];
      shapes['spot/kernel'] = [SPOT_FILTERS, classes];
    } else {
      for (const conv of ['conv1', 'conv2']) {
        shapes[`${stage}/${conv}/filters`] = [3, 3, CHANNELS, CHANNELS];
        shapes[`${stage}/${conv}/bias`] = [CHANNELS];
      }
    }
  }
  return shapes;
}

/** Trainable variables holding the tensors' values; the tensors themselves are disposed (a variable made from a tensor keeps that tensor alive). */
export function variablesOf(tensors: Record<string, tf.Tensor>): Record<string, tf.Variable> {
  return Object.fromEntries(Object.entries(tensors).map(([name, t]) => {
    const variable = tf.variable(t, true, undefined);
    t.dispose();
    return [name, variable];
  }));
}

/**
 * The frozen part of the tail, run with real convolutions: trunk features [B,8,8,128] -> the input
 * of the first trained stage. Training computes it once per image view, not every epoch. `spot`
 * gets the flattened 4x4x256 map followed by the flattened trunk map, one row per sample.
 */
export function frozenPrefix(teacher: TeacherWeights, depth: TuneDepth, features: tf.Tensor4D): tf.Tensor {
  if (depth === 'head') return teacherHead(teacher, features);
  const layer = teacherConv(teacher);
  return tf.tidy(() => {
    const first = TRAINED_STAGES[depth][0];
    let out = residualDown(layer, 'conv256_down', features);
    if (first === 'conv256_1') return out;
    out = residual(layer, 'conv256_2', residual(layer, 'conv256_1', out));
    const batch = features.shape[0];
    if (depth === 'map') return tf.reshape(out, [batch, MAP_SIZE]);
    if (depth === 'spot') return tf.concat([tf.reshape(out, [batch, MAP_SIZE]), tf.reshape(features, [batch, TRUNK_SIZE])], 1);
    if (first === 'conv256_down_out') return out;
    return tf.mean(residualDown(layer, 'conv256_down_out', out), [1, 2]);
  });
}

/** The `spot` branch: its filters on the trunk map, the strongest response of each anywhere, to logits. */
function spotLogits(w: Record<string, tf.Tensor>, trunkMap: tf.Tensor4D): tf.Tensor2D {
  const responses = tf.relu(tf.add(trainableConv2d(trunkMap, w['spot/filters'] as tf.Tensor4D, 1, 'same'), w['spot/bias']));
  return tf.matMul(tf.max(responses, [1, 2]) as tf.Tensor2D, w['spot/kernel'] as tf.Tensor2D);
}

/** The trained part of the tail: output of `frozenPrefix` -> class logits [B, classes]. */
export function trainedLogits(tail: Tail, input: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const w = tail.weights;
    const layer = trainedConv(w);
    const stages = TRAINED_STAGES[tail.depth];
    let out: tf.Tensor = input;
    let extra: tf.Tensor2D | undefined;
    if (stages.includes('spot')) {
      const batch = input.shape[0];
      out = tf.slice(input, [0, 0], [batch, MAP_SIZE]);
      extra = spotLogits(w, tf.reshape(tf.slice(input, [0, MAP_SIZE], [batch, TRUNK_SIZE]), [batch, ...FEATURE_SHAPE]));
    }
    if (stages.includes('conv256_1')) out = residual(layer, 'conv256_2', residual(layer, 'conv256_1', out as tf.Tensor4D));
    if (stages.includes('conv256_down_out')) out = tf.mean(residualDown(layer, 'conv256_down_out', out as tf.Tensor4D), [1, 2]);
    if (stages.includes('fc')) out = tf.matMul(out as tf.Tensor2D, w.fc as tf.Tensor2D);
    const logits = tf.add(tf.matMul(out as tf.Tensor2D, w['classifier/kernel'] as tf.Tensor2D), w['classifier/bias']) as tf.Tensor2D;
    return extra ? tf.add(logits, extra) : logits;
  });
}

/**
 * Trunk features [B,8,8,128] -> class probabilities [B, classes] of each tail. Tails of the same
 * depth (the two models of a pair) share the frozen prefix, which then runs once.
 */
export function tailProbabilities(teacher: TeacherWeights, tails: readonly Tail[], features: tf.Tensor4D): tf.Tensor2D[] {
  return tf.tidy(() => {
    const prefixes = new Map<TuneDepth, tf.Tensor>();
    return tails.map((tail) => {
      const prefix = prefixes.get(tail.depth) ?? frozenPrefix(teacher, tail.depth, features);
      prefixes.set(tail.depth, prefix);
      return tf.softmax(trainedLogits(tail, prefix));
    });
  });
}

export function disposeTail(tail: Tail): void {
  for (const v of Object.values(tail.weights)) v.dispose();
}
