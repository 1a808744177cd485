import { createRequire } from 'node:module';
import path from 'node:path';
import type * as FaceApi from '@vladmandic/face-api';
import type { FaceKeypoints, Point } from '../../shared/alignment.ts';
import { initBackend } from '../ml/backend.ts';
import { resizeRgb, type RgbImage } from './images.ts';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectedFace {
  box: Box;
  /** Detector confidence, 0-1. */
  score: number;
  /** In image pixels. */
  keypoints: FaceKeypoints;
  /**
   * Rough head turn: the nose tip's offset from the eye midpoint along the eye line, in
   * inter-ocular distances; 0 for a frontal face, positive when the nose points to the image's right.
   */
  yaw: number;
}

/** face-api's own default for SSD MobileNet. */
const MIN_DETECTION_SCORE = 0.5;

const require = createRequire(import.meta.url);
let loaded: Promise<typeof FaceApi> | undefined;

/** Loads face-api's SSD MobileNet detector and 68-point landmark model on the tfjs backend, once per process. */
export function loadDetector(): Promise<typeof FaceApi> {
  loaded ??= (async () => {
    await initBackend();
    // The node-wasm bundle uses the project's @tensorflow/tfjs rather than bundling its own copy.
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as typeof FaceApi;
    const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
    await faceapi.nets.ssdMobilenetv1.loadFromDisk(modelDir);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(modelDir);
    return faceapi;
  })();
  return loaded;
}

/**
 * Larger photos are shrunk to this longest side first: SSD sees a 512x512 resize and the landmark
 * net a 112x112 crop anyway, and a full-size phone photo as a tensor grows the wasm heap by
 * gigabytes that it never returns.
 */
const MAX_DETECTION_SIDE = 2048;

/**
 * SSD MobileNet misses faces that fill the frame (head shots, pre-cropped faces): when it finds
 * none, it looks again with a black border of this fraction of the image's size on every side.
 */
const RETRY_BORDER = 0.25;

/** Every face in the image with its keypoints, in image pixels, largest first. */
export async function detectFaces(image: RgbImage): Promise<DetectedFace[]> {
  const faceapi = await loadDetector();
  const shrink = Math.min(1, MAX_DETECTION_SIDE / Math.max(image.width, image.height));
  const input =
    shrink < 1 ? await resizeRgb(image, Math.round(image.width * shrink), Math.round(image.height * shrink)) : image;
  const scale = { x: input.width / image.width, y: input.height / image.height };
  const tensor = faceapi.tf.tensor3d(input.data, [input.height, input.width, 3], 'int32');
  try {
    let results = await detectIn(faceapi, tensor);
    let border = { x: 0, y: 0 };
    if (results.length === 0) {
      border = { x: Math.round(input.width * RETRY_BORDER), y: Math.round(input.height * RETRY_BORDER) };
      const padded = faceapi.tf.pad(tensor, [[border.y, border.y], [border.x, border.x], [0, 0]]);
      try {
        results = await detectIn(faceapi, padded);
      } finally {
        padded.dispose();
      }
    }
    const toImage = (p: Point): Point => ({ x: (p.x - border.x) / scale.x, y: (p.y - border.y) / scale.y });
    return results
      .map(({ detection, landmarks }): DetectedFace => {
        const keypoints = keypointsFromLandmarks(landmarks.positions.map(toImage));
        const corner = toImage(detection.box);
        const box = { ...corner, width: detection.box.width / scale.x, height: detection.box.height / scale.y };
        return { box, score: detection.score, keypoints, yaw: yawFromKeypoints(keypoints) };
      })
      .sort((p, q) => q.box.width * q.box.height - p.box.width * p.box.height);
  } finally {
    tensor.dispose();
  }
}

function detectIn(faceapi: typeof FaceApi, input: FaceApi.tf.Tensor3D) {
  return faceapi
    .detectAllFaces(input, new faceapi.SsdMobilenetv1Options({ minConfidence: MIN_DETECTION_SCORE }))
    .withFaceLandmarks();
}

/**
 * The six MediaPipe keypoints from the 68-point (iBUG 300-W) scheme: points 36-41 outline the
 * eye on the image's left, 42-47 the other eye, 30 is the nose tip, 48-67 the lips, and the jaw
 * line starts at 0 and ends at 16 beside the ears.
 */
function keypointsFromLandmarks(points: Point[]): FaceKeypoints {
  return {
    leftEye: mean(points.slice(36, 42)),
    rightEye: mean(points.slice(42, 48)),
    noseTip: points[30],
    mouth: mean(points.slice(48, 68)),
    leftEar: points[0],
    rightEar: points[16],
  };
}

function mean(points: Point[]): Point {
  return {
    x: points.reduce((sum, p) => sum + p.x, 0) / points.length,
    y: points.reduce((sum, p) => sum + p.y, 0) / points.length,
  };
}

export function eyeDistance({ leftEye, rightEye }: FaceKeypoints): number {
  return Math.hypot(rightEye.x - leftEye.x, rightEye.y - leftEye.y);
}

function yawFromKeypoints(keypoints: FaceKeypoints): number {
  const { leftEye, rightEye, noseTip } = keypoints;
  const midpoint = { x: (leftEye.x + rightEye.x) / 2, y: (leftEye.y + rightEye.y) / 2 };
  const along = (noseTip.x - midpoint.x) * (rightEye.x - leftEye.x) + (noseTip.y - midpoint.y) * (rightEye.y - leftEye.y);
  return along / eyeDistance(keypoints) ** 2;
}
