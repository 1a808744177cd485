import * as tf from '@tensorflow/tfjs';
import { FEATURE_SHAPE, residualDown, type TeacherWeights } from './teacher.ts';
import { mixPositions, tinyConv, tinyConvGeometry, type TinyConvGeometry } from './tinyConv.ts';

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

interface Geometries { same4: TinyConvGeometry; down4: TinyConvGeometry; same1: TinyConvGeometry; avgPool: tf.Tensor2D; padCorner: tf.Tensor2D; mean: tf.Tensor2D }
let geometries: Geometries | undefined;

/** Constant matrices built once; kept out of any caller's tidy scope, which would dispose them. */
function shapes(): Geometries {
  if (geometries) return geometries;
  const avgPool = new Float32Array(4 * POSITIONS);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) avgPool[(Math.floor(y / 2) * 2 + Math.floor(x / 2)) * POSITIONS + y * 4 + x] = 0.25;
  const built: Geometries = {
    same4: tinyConvGeometry(4, 4, 3, 1, 'same'),
    down4: tinyConvGeometry(4, 4, 3, 2, 'valid'),
    same1: tinyConvGeometry(1, 1, 3, 1, 'same'),
    avgPool: tf.tensor2d(avgPool, [4, POSITIONS]),
    padCorner: tf.tensor2d([1, 0, 0, 0], [4, 1]),
    mean: tf.fill([1, 4], 0.25) as tf.Tensor2D,
  };
  for (const t of [built.same4.selection, built.down4.selection, built.same1.selection, built.avgPool, built.padCorner, built.mean]) tf.keep(t);
  geometries = built;
  return geometries;
}

/** A teacher convolution with its scale layer folded in: kernel [9*in, out], bias [out]. */
function foldedConv(w: TeacherWeights, prefix: string): { kernel: tf.Tensor2D; bias: tf.Tensor1D } {
  return tf.tidy(() => {
    const filters = w[`${prefix}/conv/filters`] as tf.Tensor4D;
    const scale = w[`${prefix}/scale/weights`] as tf.Tensor1D;
    const [kh, kw, cin, cout] = filters.shape;
    return {
      kernel: tf.reshape(tf.mul(filters, scale), [kh * kw * cin, cout]) as tf.Tensor2D,
      bias: tf.add(tf.mul(w[`${prefix}/conv/bias`], scale), w[`${prefix}/scale/biases`]) as tf.Tensor1D,
    };
  });
}

function residualParams(w: TeacherWeights, stage: Stage): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const conv of ['conv1', 'conv2']) {
    const { kernel, bias } = foldedConv(w, `${stage}/${conv}`);
    out[`${stage}/${conv}/kernel`] = kernel;
    out[`${stage}/${conv}/bias`] = bias;
  }
  return out;
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
    } else Object.assign(initial, residualParams(teacher, stage));
  }
  return { depth, classes, weights: variablesOf(initial) };
}

export function variablesOf(tensors: Record<string, tf.Tensor>): Record<string, tf.Variable> {
  return Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, tf.variable(t, true, undefined)]));
}

function teacherResidual(w: TeacherWeights, prefix: string, x: tf.Tensor4D): tf.Tensor4D {
  const conv = (p: string, input: tf.Tensor4D, relu: boolean) => {
    let out = tf.conv2d(input, w[`${p}/conv/filters`] as tf.Tensor4D, 1, 'same');
    out = tf.add(tf.mul(tf.add(out, w[`${p}/conv/bias`]), w[`${p}/scale/weights`]), w[`${p}/scale/biases`]);
    return relu ? tf.relu(out) : out;
  };
  return tf.relu(tf.add(conv(`${prefix}/conv2`, conv(`${prefix}/conv1`, x, true), false), x));
}

/**
 * The frozen part of the tail, run with real convolutions: trunk features [B,4,4,256] -> the
 * input of the first trained stage. Training computes it once per image view, not every epoch.
 */
export function frozenPrefix(teacher: TeacherWeights, depth: TuneDepth, features: tf.Tensor4D): tf.Tensor {
  return tf.tidy(() => {
    const first = TRAINED_STAGES[depth][0];
    if (first === 'conv256_1') return features;
    let out = teacherResidual(teacher, 'conv256_1', features);
    out = teacherResidual(teacher, 'conv256_2', out);
    if (depth === 'map') return tf.reshape(out, [out.shape[0], POSITIONS * CHANNELS]);
    if (first === 'conv256_down_out') return out;
    const pooled = tf.mean(residualDown(teacher, 'conv256_down_out', out), [1, 2]);
    return first === 'fc' ? pooled : tf.matMul(pooled as tf.Tensor2D, teacher.fc as tf.Tensor2D);
  });
}

function trainedResidual(w: Record<string, tf.Tensor>, stage: Stage, x: tf.Tensor3D): tf.Tensor3D {
  const g = shapes();
  const h = tf.relu(tinyConv(g.same4, x, w[`${stage}/conv1/kernel`] as tf.Tensor2D, w[`${stage}/conv1/bias`] as tf.Tensor1D));
  return tf.relu(tf.add(tinyConv(g.same4, h, w[`${stage}/conv2/kernel`] as tf.Tensor2D, w[`${stage}/conv2/bias`] as tf.Tensor1D), x));
}

function trainedResidualDown(w: Record<string, tf.Tensor>, x: tf.Tensor3D): tf.Tensor2D {
  const g = shapes();
  let h = tf.relu(tinyConv(g.down4, x, w['conv256_down_out/conv1/kernel'] as tf.Tensor2D, w['conv256_down_out/conv1/bias'] as tf.Tensor1D));
  h = tinyConv(g.same1, h, w['conv256_down_out/conv2/kernel'] as tf.Tensor2D, w['conv256_down_out/conv2/bias'] as tf.Tensor1D);
  const merged = tf.relu(tf.add(mixPositions(g.avgPool, x), mixPositions(g.padCorner, h))) as tf.Tensor3D;
  return tf.reshape(mixPositions(g.mean, merged), [x.shape[0], CHANNELS]);
}

/** The trained part of the tail: output of `frozenPrefix` -> class logits [B, classes]. */
export function trainedLogits(tail: Tail, input: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const w = tail.weights;
    const stages = TRAINED_STAGES[tail.depth];
    let out: tf.Tensor = input;
    if (stages.includes('conv256_1')) {
      out = tf.reshape(out, [out.shape[0], POSITIONS, CHANNELS]);
      out = trainedResidual(w, 'conv256_1', out as tf.Tensor3D);
      out = trainedResidual(w, 'conv256_2', out as tf.Tensor3D);
    }
    if (stages.includes('conv256_down_out')) out = trainedResidualDown(w, tf.reshape(out, [out.shape[0], POSITIONS, CHANNELS]) as tf.Tensor3D);
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
