import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type BackendInfo } from '../../server/ml/backend.ts';
import { loadTeacher, teacherHead, trunk, type TeacherWeights } from '../../server/ml/teacher.ts';
import { requestWebGpu } from '../../server/ml/webgpu.ts';
import { faceApiDescriptors, sampleChips } from './faceApiReference.ts';
import { hasSoftwareGl, SOFTWARE_GL_MISSING } from './softwareGl.ts';


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
    const chips = await sampleChips();
    const input = tf.tensor4d(new Uint8Array(Buffer.concat(chips)), [chips.length, 150, 150, 3], 'int32');
    const ours = await teacherHead(teacher, trunk(teacher, input)).array();
    const theirs = await faceApiDescriptors(chips);
    theirs.forEach((descriptor, i) => {
      const worst = Math.max(...Array.from(descriptor, (v, j) => Math.abs(v - ours[i][j])));
      // Measured: 2e-7 (float32 sums in another order).
      expect(worst, `sample ${i + 1}`).toBeLessThan(1e-5);
    });
  });
});
