import * as tf from '@tensorflow/tfjs';

/**
 * Convolutions on tiny feature maps written as matrix products. The wasm backend has no
 * Conv2DBackpropFilter kernel, so a tail that trains convolutions expresses them this way; on a
 * 4x4 map the patch gathering is a constant 0/1 matrix and the result is exact.
 */
export interface TinyConvGeometry {
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  /** [taps * outPositions, inPositions]: row (tap, outPos) selects the input position that tap reads. */
  selection: tf.Tensor2D;
  taps: number;
}

/** Patch selection for a k x k convolution with tfjs's 'same' or 'valid' padding rules. */
export function tinyConvGeometry(inHeight: number, inWidth: number, kernel: number, stride: number, padding: 'same' | 'valid'): TinyConvGeometry {
  const outHeight = padding === 'same' ? Math.ceil(inHeight / stride) : Math.floor((inHeight - kernel) / stride) + 1;
  const outWidth = padding === 'same' ? Math.ceil(inWidth / stride) : Math.floor((inWidth - kernel) / stride) + 1;
  const padTop = padding === 'same' ? Math.floor(Math.max((outHeight - 1) * stride + kernel - inHeight, 0) / 2) : 0;
  const padLeft = padding === 'same' ? Math.floor(Math.max((outWidth - 1) * stride + kernel - inWidth, 0) / 2) : 0;
  const taps = kernel * kernel;
  const outPositions = outHeight * outWidth;
  const inPositions = inHeight * inWidth;
  const matrix = new Float32Array(taps * outPositions * inPositions);
  for (let ky = 0; ky < kernel; ky++) {
    for (let kx = 0; kx < kernel; kx++) {
      const tap = ky * kernel + kx;
      for (let oy = 0; oy < outHeight; oy++) {
        for (let ox = 0; ox < outWidth; ox++) {
          const iy = oy * stride + ky - padTop;
          const ix = ox * stride + kx - padLeft;
          if (iy < 0 || iy >= inHeight || ix < 0 || ix >= inWidth) continue;
          const row = tap * outPositions + oy * outWidth + ox;
          matrix[row * inPositions + iy * inWidth + ix] = 1;
        }
      }
    }
  }
  return { inHeight, inWidth, outHeight, outWidth, taps, selection: tf.tensor2d(matrix, [taps * outPositions, inPositions]) };
}

/**
 * x: [batch, inPositions, inChannels]; kernel: [taps * inChannels, outChannels] (a tfjs
 * [k, k, in, out] filter reshaped). Returns [batch, outPositions, outChannels].
 */
export function tinyConv(geometry: TinyConvGeometry, x: tf.Tensor3D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor3D {
  const [batch, inPositions, inChannels] = x.shape;
  const outPositions = geometry.outHeight * geometry.outWidth;
  const columns = tf.reshape(tf.transpose(x, [1, 0, 2]), [inPositions, batch * inChannels]);
  const patches = tf.reshape(tf.matMul(geometry.selection, columns), [geometry.taps, outPositions, batch, inChannels]);
  const rows = tf.reshape(tf.transpose(patches, [2, 1, 0, 3]), [batch * outPositions, geometry.taps * inChannels]);
  return tf.reshape(tf.add(tf.matMul(rows, kernel), bias), [batch, outPositions, kernel.shape[1]]);
}

/** A constant [outPositions, inPositions] matrix applied to every channel: pooling, zero-padding, averaging. */
export function mixPositions(matrix: tf.Tensor2D, x: tf.Tensor3D): tf.Tensor3D {
  const [batch, inPositions, channels] = x.shape;
  const columns = tf.reshape(tf.transpose(x, [1, 0, 2]), [inPositions, batch * channels]);
  const mixed = tf.reshape(tf.matMul(matrix, columns), [matrix.shape[0], batch, channels]);
  return tf.transpose(mixed, [1, 0, 2]) as tf.Tensor3D;
}
