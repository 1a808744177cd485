import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../server/ml/backend.ts';
import { loadTeacher, teacherHead, trunk, type TeacherWeights } from '../../server/ml/teacher.ts';
import { requestWebGpu } from '../../server/ml/webgpu.ts';
import { hasSoftwareGl, SOFTWARE_GL_MISSING } from './softwareGl.ts';

const require = createRequire(import.meta.url);
const SAMPLES = ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg'].map((file) => require.resolve(`@vladmandic/face-api/demo/${file}`));

describe.skipIf(!hasSoftwareGl)(`the teacher on WebGPU (Dawn on Mesa's software OpenGL ES)${hasSoftwareGl ? '' : ` (skipped: ${SOFTWARE_GL_MISSING})`}`, () => {
  let backend: BackendInfo;
  let teacher: TeacherWeights;
  beforeAll(async () => {
    backend = await initBackend('webgpu');
    teacher = await loadTeacher();
  });

  it('runs on a WebGPU adapter it reports as software, never picked unless asked for', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    expect(backend).toMatchObject({ name: 'webgpu', gpu: false, device: expect.stringMatching(/\(software\)$/) });
    // Unforced, only a real GPU will do: none here, or one that is not software.
    const unforced = await requestWebGpu({ allowSoftware: false });
    expect(unforced?.software ?? false).toBe(false);
    unforced?.device.destroy();
  });

  it('gives face-api’s own descriptor (computed on the reference cpu backend) within 1e-5', async () => {
    const chips = await Promise.all(SAMPLES.map((file) => sharp(file).resize(150, 150).removeAlpha().raw().toBuffer()));
    const input = tf.tensor4d(new Uint8Array(Buffer.concat(chips)), [chips.length, 150, 150, 3], 'int32');
    const ours = await teacherHead(teacher, trunk(teacher, input)).array();

    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
    await faceapi.nets.faceRecognitionNet.loadFromDisk(require.resolve('@vladmandic/face-api/model/face_recognition_model-weights_manifest.json').replace(/\/[^/]+$/, ''));
    await tf.setBackend('cpu');
    try {
      for (let i = 0; i < chips.length; i++) {
        const theirs: Float32Array = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(tf.tensor3d(new Uint8Array(chips[i]), [150, 150, 3], 'int32'));
        const worst = Math.max(...Array.from(theirs, (v, j) => Math.abs(v - ours[i][j])));
        // Measured: 2e-7 (float32 sums in another order).
        expect(worst, SAMPLES[i]).toBeLessThan(1e-5);
      }
    } finally {
      await tf.setBackend('webgpu');
    }
  });
});
