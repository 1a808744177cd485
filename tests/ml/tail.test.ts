import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../server/ml/backend.ts';
import { createTail, disposeTail, tailProbabilities, trainedLogits } from '../../server/ml/tail.ts';
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

describe('tail probabilities of several tails', () => {
  it('are each tail’s own, and the frozen layers two tails of one depth share run once', async () => {
    const features = tf.randomUniform([2, ...FEATURE_SHAPE], 0, 2, 'float32', 5) as tf.Tensor4D;
    const tails = [createTail(teacher, 'map', 4, 1), createTail(teacher, 'map', 4, 2), createTail(teacher, 'fc', 4, 3)];
    const arraysOf = async (probabilities: tf.Tensor2D[]) => {
      const arrays = await Promise.all(probabilities.map((p) => p.array()));
      tf.dispose(probabilities);
      return arrays;
    };
    const alone = (await Promise.all(tails.map((tail) => arraysOf(tailProbabilities(teacher, [tail], features))))).flat(1);
    let together: number[][][] = [];
    const profile = await tf.profile(async () => {
      together = await arraysOf(tailProbabilities(teacher, tails, features));
    });
    together.forEach((rows, t) => rows.forEach((row, i) => row.forEach((p, k) => expect(p).toBeCloseTo(alone[t][i][k], 6))));
    expect(together[0][0]).not.toEqual(together[1][0]);
    // conv256_down, the one convolution that reads the 8x8x128 trunk map: once for both map tails, once for fc (3 if not shared).
    const trunkMapConvs = profile.kernels.filter((k) => k.name.startsWith('Conv2D') || k.name.startsWith('FusedConv2D')).filter((k) => k.inputShapes[0]?.slice(1).join('x') === FEATURE_SHAPE.join('x'));
    expect(trunkMapConvs.length).toBe(2);
    tails.forEach(disposeTail);
    features.dispose();
  });
});
