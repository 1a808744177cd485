import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../server/ml/backend.ts';
import { createTail, frozenPrefix, trainedLogits } from '../../server/ml/tail.ts';
import { TUNE_DEPTHS } from '../../shared/training.ts';
import { foldScaleLayers, loadTeacher, teacherHead, trunk, type TeacherWeights } from '../../server/ml/teacher.ts';

const require = createRequire(import.meta.url);
const SAMPLE = require.resolve('@vladmandic/face-api/demo/sample2.jpg');

async function chip(): Promise<tf.Tensor4D> {
  const data = await sharp(SAMPLE).resize(150, 150).removeAlpha().raw().toBuffer();
  return tf.tensor4d(new Uint8Array(data), [1, 150, 150, 3], 'int32');
}

describe('teacher', () => {
  let teacher: TeacherWeights;
  beforeAll(async () => {
    await initBackend();
    teacher = await loadTeacher();
  });

  it('reproduces face-api’s own descriptor exactly', async () => {
    const input = await chip();
    const ours = await teacherHead(teacher, trunk(teacher, input)).data();
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
    await faceapi.nets.faceRecognitionNet.loadFromDisk(require.resolve('@vladmandic/face-api/model/face_recognition_model-weights_manifest.json').replace(/\/[^/]+$/, ''));
    const theirs: Float32Array = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(tf.squeeze(input, [0]));
    expect(ours.length).toBe(128);
    expect(Array.from(ours)).toEqual(Array.from(theirs));
  });

  it('computes the same descriptor through every tail’s own layers (scale folded into the convolutions)', async () => {
    const features = trunk(teacher, await chip());
    const reference = await teacherHead(teacher, features).data();
    for (const depth of TUNE_DEPTHS.filter((d) => d !== 'head' && d !== 'map' && d !== 'spot')) {
      const tail = createTail(teacher, depth, 128, 1);
      tail.weights['classifier/kernel'].assign(tf.eye(128));
      tail.weights['classifier/bias'].assign(tf.zeros([128]));
      const ours = await trainedLogits(tail, frozenPrefix(teacher, depth, features)).data();
      const worst = Math.max(...Array.from(ours, (v, i) => Math.abs(v - reference[i])));
      expect(worst, depth).toBeLessThan(1e-5);
    }
  });

  it('gives the same descriptor with its scale layers folded into the convolutions, as the live workers run it', async () => {
    const input = await chip();
    const stored = await teacherHead(teacher, trunk(teacher, input)).data();
    const folded = foldScaleLayers(teacher);
    expect(Object.keys(folded).some((name) => name.includes('/scale/'))).toBe(false);
    const ours = await teacherHead(folded, trunk(folded, input)).data();
    const worst = Math.max(...Array.from(ours, (v, i) => Math.abs(v - stored[i])));
    expect(worst).toBeLessThan(1e-5);
    tf.dispose(Object.values(folded));
  });

  it('refuses chips of the wrong size', () => {
    expect(() => trunk(teacher, tf.zeros([1, 100, 100, 3]))).toThrow(/150,150,3/);
  });
});
