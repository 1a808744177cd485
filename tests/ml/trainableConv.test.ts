import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../server/ml/backend.ts';
import { trainableConv2d, type Padding } from '../../server/ml/trainableConv.ts';

/** Largest absolute difference, relative to the largest magnitude of the reference. */
function relativeError(ours: Float32Array, reference: Float32Array): number {
  const scale = Math.max(...Array.from(reference, Math.abs));
  return Math.max(...Array.from(ours, (v, i) => Math.abs(v - reference[i]))) / scale;
}

// The shapes the tails train: 3x3 convolutions on the 4x4 map, strided 'valid' down-sampling, and larger maps.
const CASES: { size: number; channels: [number, number]; stride: number; padding: Padding }[] = [
  { size: 4, channels: [16, 8], stride: 1, padding: 'same' },
  { size: 4, channels: [16, 8], stride: 2, padding: 'valid' },
  { size: 9, channels: [8, 12], stride: 2, padding: 'valid' },
  { size: 9, channels: [8, 4], stride: 2, padding: 'same' },
  { size: 17, channels: [4, 4], stride: 1, padding: 'same' },
];

describe('trainableConv2d', () => {
  let backend: string;
  beforeAll(async () => {
    await initBackend();
    backend = tf.getBackend();
  });
  afterAll(async () => {
    await tf.setBackend(backend);
  });

  it('has the gradients of tfjs’s own conv2d (computed on the cpu backend, which has every kernel)', async () => {
    for (const { size, channels, stride, padding } of CASES) {
      const x = tf.randomNormal([3, size, size, channels[0]], 0, 1, 'float32', 1);
      const filter = tf.randomNormal([3, 3, ...channels], 0, 1, 'float32', 2);
      // A weighted sum, so that every output position gets a different upstream gradient.
      const weights = tf.randomNormal(tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, stride, padding).shape, 0, 1, 'float32', 3);
      const loss = (conv: typeof tf.conv2d) => (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D, stride, padding), weights));
      const ours = tf.grads(loss(trainableConv2d as typeof tf.conv2d))([x, filter]);
      const [oursX, oursFilter] = await Promise.all(ours.map((g) => g.data() as Promise<Float32Array>));

      const [xData, filterData, weightData] = await Promise.all([x.data(), filter.data(), weights.data()]);
      await tf.setBackend('cpu');
      const cpuWeights = tf.tensor(weightData, weights.shape);
      const reference = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, padding), cpuWeights)))([
        tf.tensor(xData, x.shape),
        tf.tensor(filterData, filter.shape),
      ]);
      const [referenceX, referenceFilter] = await Promise.all(reference.map((g) => g.data() as Promise<Float32Array>));
      await tf.setBackend(backend);

      const label = `${size}x${size} stride ${stride} ${padding}`;
      expect(relativeError(oursX, referenceX), `input gradient, ${label}`).toBeLessThan(1e-5);
      expect(relativeError(oursFilter, referenceFilter), `filter gradient, ${label}`).toBeLessThan(1e-5);
    }
  });
});
