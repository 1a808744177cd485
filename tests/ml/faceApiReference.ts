import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';

const require = createRequire(import.meta.url);

/** face-api's own sample photos squeezed to 150x150 RGB chips. */
export function sampleChips(): Promise<Buffer[]> {
  return Promise.all([1, 2, 3, 4].map((i) => sharp(require.resolve(`@vladmandic/face-api/demo/sample${i}.jpg`)).resize(150, 150).removeAlpha().raw().toBuffer()));
}

/**
 * face-api's own descriptors of 150x150 RGB chips, computed on the reference `cpu` backend with its
 * own weights (the current backend is restored after). The yardstick for the teacher on any backend.
 */
export async function faceApiDescriptors(chips: readonly Buffer[]): Promise<Float32Array[]> {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const current = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    await faceapi.nets.faceRecognitionNet.loadFromDisk(path.dirname(require.resolve('@vladmandic/face-api/model/face_recognition_model-weights_manifest.json')));
    const descriptors: Float32Array[] = [];
    for (const chip of chips) descriptors.push(await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(tf.tensor3d(new Uint8Array(chip), [150, 150, 3], 'int32')));
    return descriptors;
  } finally {
    await tf.setBackend(current);
  }
}
