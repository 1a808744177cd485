import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CHIP_SIZE } from '../../shared/alignment.ts';

/**
 * The pretrained face-recognition teacher: dlib's ResNet-29 as shipped in @vladmandic/face-api
 * (150x150 RGB in, 128-d descriptor out). We run its frozen trunk up to the 8x8x128 feature map
 * after `conv128_2`; everything after that point lives in `tail.ts`, where it can be retrained.
 */
export const TEACHER_ID = 'face-api@1.7.15/face_recognition_model (dlib ResNet-29, 128-d)';
export const FEATURE_SHAPE = [8, 8, 128] as const;
/** Where the trunk ends, part of every feature-cache key. */
export const TRUNK_CUT = 'conv128_2';
const MEAN_RGB = [122.782, 117.001, 104.298];

export type TeacherWeights = tf.NamedTensorMap;

const require = createRequire(import.meta.url);
let loaded: Promise<TeacherWeights> | undefined;

export function teacherModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/** Loads the teacher's weights with tfjs IO from the installed face-api package (once per process). */
export function loadTeacher(): Promise<TeacherWeights> {
  loaded ??= (async () => {
    const dir = teacherModelDir();
    const manifest = JSON.parse(await readFile(path.join(dir, 'face_recognition_model-weights_manifest.json'), 'utf8')) as tf.io.WeightsManifestConfig;
    const specs = manifest.flatMap((group) => group.weights);
    const buffers = await Promise.all(manifest.flatMap((group) => group.paths).map((p) => readFile(path.join(dir, p))));
    const data = Buffer.concat(buffers);
    return tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), specs);
  })();
  return loaded;
}

export interface ConvOptions { stride: number; padding: 'same' | 'valid'; relu: boolean }

/** One convolution of the network with its scale (batch-norm) layer, by layer name; without ReLU. */
export type ConvLayer = (prefix: string, x: tf.Tensor4D, options: Omit<ConvOptions, 'relu'>) => tf.Tensor4D;

/** The teacher's own convolutions: conv, bias, then the scale layer unless it was folded in. */
export function teacherConv(w: TeacherWeights): ConvLayer {
  return (prefix, x, { stride, padding }) => {
    const out = tf.add<tf.Tensor4D>(tf.conv2d(x, w[`${prefix}/conv/filters`] as tf.Tensor4D, stride, padding), w[`${prefix}/conv/bias`]);
    const scale = w[`${prefix}/scale/weights`];
    return scale ? tf.add<tf.Tensor4D>(tf.mul(out, scale), w[`${prefix}/scale/biases`]) : out;
  };
}

/**
 * The teacher with each scale layer folded into its convolution (filters and bias times the
 * scale, plus the shift): the same function with two element-wise passes fewer per layer, for
 * live inference. The returned weights are new tensors; training keeps the layers as stored.
 */
export function foldScaleLayers(w: TeacherWeights): TeacherWeights {
  return tf.tidy(() => {
    const folded: TeacherWeights = {};
    for (const [name, tensor] of Object.entries(w)) {
      if (name.endsWith('/scale/weights') || name.endsWith('/scale/biases')) continue;
      const prefix = name.replace(/\/conv\/(filters|bias)$/, '');
      const scale = prefix !== name ? w[`${prefix}/scale/weights`] : undefined;
      if (!scale) folded[name] = tf.clone(tensor);
      else if (name.endsWith('/filters')) folded[name] = tf.mul(tensor, scale);
      else folded[name] = tf.add(tf.mul(tensor, scale), w[`${prefix}/scale/biases`]);
    }
    return folded;
  });
}

function conv(layer: ConvLayer, prefix: string, x: tf.Tensor4D, { relu, ...options }: ConvOptions): tf.Tensor4D {
  const out = layer(prefix, x, options);
  return relu ? tf.relu(out) : out;
}

export function residual(layer: ConvLayer, prefix: string, x: tf.Tensor4D): tf.Tensor4D {
  const out = conv(layer, `${prefix}/conv1`, x, { stride: 1, padding: 'same', relu: true });
  return tf.relu(tf.add(conv(layer, `${prefix}/conv2`, out, { stride: 1, padding: 'same', relu: false }), x));
}

/** dlib's down-sampling block: a strided branch plus a 2x2 average-pooled shortcut, zero-padded to match. */
export function residualDown(layer: ConvLayer, prefix: string, x: tf.Tensor4D): tf.Tensor4D {
  let out = conv(layer, `${prefix}/conv1`, x, { stride: 2, padding: 'valid', relu: true });
  out = conv(layer, `${prefix}/conv2`, out, { stride: 1, padding: 'same', relu: false });
  let pooled = tf.avgPool(x, 2, 2, 'valid');
  const [, ph, pw, pc] = pooled.shape;
  if (out.shape[1] !== ph || out.shape[2] !== pw) {
    out = tf.pad(out, [[0, 0], [0, ph - out.shape[1]], [0, pw - out.shape[2]], [0, 0]]);
  }
  if (pc !== out.shape[3]) pooled = tf.pad(pooled, [[0, 0], [0, 0], [0, 0], [0, out.shape[3] - pc]]);
  return tf.relu(tf.add(pooled, out));
}

/** Mean-RGB normalisation exactly as face-api does it: (x - mean) / 255. Input: RGB pixels 0..255. */
function normalize(chips: tf.Tensor4D): tf.Tensor4D {
  return tf.div(tf.sub(tf.cast(chips, 'float32'), tf.tensor1d(MEAN_RGB)), 255);
}

/** Frozen trunk: [B,150,150,3] RGB chips -> [B,8,8,128] feature maps (the input of `conv256_down`). */
export function trunk(w: TeacherWeights, chips: tf.Tensor4D): tf.Tensor4D {
  if (chips.shape[1] !== CHIP_SIZE || chips.shape[2] !== CHIP_SIZE || chips.shape[3] !== 3) {
    throw new Error(`teacher expects [batch,${CHIP_SIZE},${CHIP_SIZE},3] chips, got [${chips.shape.join(',')}]`);
  }
  const layer = teacherConv(w);
  return tf.tidy(() => {
    let out = conv(layer, 'conv32_down', normalize(chips), { stride: 2, padding: 'valid', relu: true });
    out = tf.maxPool(out, 3, 2, 'valid');
    for (const block of ['conv32_1', 'conv32_2', 'conv32_3']) out = residual(layer, block, out);
    out = residualDown(layer, 'conv64_down', out);
    for (const block of ['conv64_1', 'conv64_2', 'conv64_3']) out = residual(layer, block, out);
    out = residualDown(layer, 'conv128_down', out);
    for (const block of ['conv128_1', 'conv128_2']) out = residual(layer, block, out);
    return out;
  });
}

/** The teacher's own head with convolutions, as face-api computes it: feature map -> 128-d descriptor. */
export function teacherHead(w: TeacherWeights, features: tf.Tensor4D): tf.Tensor2D {
  const layer = teacherConv(w);
  return tf.tidy(() => {
    let out = residualDown(layer, 'conv256_down', features);
    out = residual(layer, 'conv256_1', out);
    out = residual(layer, 'conv256_2', out);
    out = residualDown(layer, 'conv256_down_out', out);
    return tf.matMul(tf.mean(out, [1, 2]) as tf.Tensor2D, w.fc as tf.Tensor2D);
  });
}
