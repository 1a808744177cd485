import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../server/ml/backend.ts';
import { createTail, disposeTail, trainedLogits } from '../../server/ml/tail.ts';
import { FEATURE_SHAPE, loadTeacher, type TeacherWeights } from '../../server/ml/teacher.ts';

let teacher: TeacherWeights;

beforeAll(async () => {
  await initBackend();
  teacher = await loadTeacher();
});

/** A trunk map that is zero except for one 3x3 patch (the same random patch every time) at the given corner. */
function mapWithPatch(row?: number, column?: number): tf.Tensor4D {
  const [height, width, channels] = FEATURE_SHAPE;
  const patch = tf.randomUniform([3, 3, channels], 0, 4, 'float32', 11);
  if (row === undefined || column === undefined) return tf.zeros([1, height, width, channels]);
  return tf.pad(patch, [[row, height - row - 3], [column, width - column - 3], [0, 0]]).expandDims(0) as tf.Tensor4D;
}

describe('the spot tail', () => {
  it('answers the same for a local pattern wherever it sits on the face, and differently without it', async () => {
    const tail = createTail(teacher, 'spot', 3, 1);
    // Silence the map branch so that the logits come from the spot branch alone.
    tail.weights['classifier/kernel'].assign(tf.zerosLike(tail.weights['classifier/kernel']));
    const logits = (trunkMap: tf.Tensor4D) => {
      const mapPart = tf.zeros([1, tail.weights['classifier/kernel'].shape[0]]);
      return trainedLogits(tail, tf.concat([mapPart, tf.reshape(trunkMap, [1, -1])], 1)).data();
    };
    const [upperLeft, lowerRight, absent] = await Promise.all([logits(mapWithPatch(1, 1)), logits(mapWithPatch(4, 4)), logits(mapWithPatch())]);
    for (let k = 0; k < 3; k++) expect(lowerRight[k]).toBeCloseTo(upperLeft[k], 4);
    expect(Math.max(...Array.from(upperLeft, (v, k) => Math.abs(v - absent[k])))).toBeGreaterThan(1e-2);
    disposeTail(tail);
  });
});
