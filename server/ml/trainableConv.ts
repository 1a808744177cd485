import * as tf from '@tensorflow/tfjs';

export type Padding = 'same' | 'valid';

/** tfjs's split of 'same' padding: the extra row or column goes after, as in TensorFlow. */
function samePadding(inSize: number, outSize: number, kernel: number, stride: number): [number, number] {
  const total = Math.max((outSize - 1) * stride + kernel - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * The filter gradient of conv2d(x, filter, stride, padding), computed by a forward convolution:
 * dW[i, j, c, o] = sum over batch and output positions of x[b, y*s + i, x*s + j, c] * dy[b, y, x, o]
 * is a 'valid' convolution of x (batch and channels swapped) with dy as the filter, dilated by the
 * stride.
 */
function filterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, kernel: number, stride: number, padding: Padding): tf.Tensor4D {
  return tf.tidy(() => {
    const [, outHeight, outWidth] = dy.shape;
    let padded: tf.Tensor4D = x;
    if (padding === 'same') {
      padded = tf.pad(x, [[0, 0], samePadding(x.shape[1], outHeight, kernel, stride), samePadding(x.shape[2], outWidth, kernel, stride), [0, 0]]);
    }
    const used = tf.slice(padded, [0, 0, 0, 0], [-1, (outHeight - 1) * stride + kernel, (outWidth - 1) * stride + kernel, -1]);
    const gradient = tf.conv2d(tf.transpose(used, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, 'valid', 'NHWC', stride);
    return tf.transpose(gradient, [1, 2, 0, 3]);
  });
}

/**
 * conv2d whose gradients need only forward convolution kernels. The wasm backend has no
 * Conv2DBackpropFilter kernel, so a tail that retrains teacher convolutions uses this on every
 * backend; the input gradient is tfjs's own (Conv2DBackpropInput exists everywhere).
 * x: [batch, height, width, in]; filter: [k, k, in, out] with k odd.
 */
export function trainableConv2d(x: tf.Tensor4D, filter: tf.Tensor4D, stride: number, padding: Padding): tf.Tensor4D {
  const conv = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xs, ws, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xs, ws]);
    return {
      value: tf.conv2d(xs, ws, stride, padding),
      gradFunc: (dy, saved) => {
        const [savedX, savedW] = saved as [tf.Tensor4D, tf.Tensor4D];
        const grad = dy as tf.Tensor4D;
        return [tf.conv2dTranspose(grad, savedW, savedX.shape, stride, padding), filterGradient(savedX, grad, savedW.shape[0], stride, padding)];
      },
    };
  });
  return conv(x, filter) as tf.Tensor4D;
}
