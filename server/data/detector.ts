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
  /**
   * 1 when the face was found in the image as given; otherwise the factor of the upscaled copy
   * its box and keypoints come from (they are still given in the image's own pixels).
   */
  upscale: number;
}

export interface DetectOptions {
  /**
   * Look again, on a copy of the image upscaled with sharp's lanczos3, when no face or a face with
   * eyes under UPSCALE_BELOW_EYES pixels apart was found (see detectFaces). Off by default: one more
   * detection for such images.
   */
  upscaleSmallFaces?: boolean;
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

/**
 * Small faces: SSD MobileNet resizes every input to 512x512, so an upscaled photo shows it the same
 * face (sharper by the kernel only; it finds about as many faces, not always the same ones), but the
 * 68-point landmark net gets the face box cut out of the image as given and resized to 112x112: from
 * a small face, a blurred bilinear enlargement, and its eye centres stray further. Measured on the 21
 * frontal faces of face-api's sample photos, each cut out and shrunk so the eyes are 10 to 16 px
 * apart: mean eye error (of the faces found, against the eyes found at full size) 6-8% of the eye
 * distance at native size, 3-5% on a 2-4x lanczos3 copy; at 24 and 32 px the copy gains little
 * (4.1-4.3% against 3.7-4.0%). Below this eye distance, or when no face was found, detectFaces with
 * upscaleSmallFaces looks again on an upscaled copy.
 */
export const UPSCALE_BELOW_EYES = 24;

/**
 * The copy is scaled so the smallest such face has eyes about this far apart: its box (about 2.4 eye
 * distances wide) is then about the landmark net's 112 pixels, which it is shrunk to, not enlarged.
 */
const UPSCALE_TARGET_EYES = 48;

/** Largest upscale; a photo where no face was found is looked at again at this factor. */
const MAX_UPSCALE = 4;

/** Smaller factors change too little to be worth a second detection (and the copy must fit MAX_DETECTION_SIDE). */
const MIN_UPSCALE = 1.5;

/**
 * Every face in the image with its box and keypoints, in image pixels, largest first.
 *
 * With upscaleSmallFaces, an image where no face was found, or a face with eyes under
 * UPSCALE_BELOW_EYES pixels apart, is upscaled (lanczos3, by up to MAX_UPSCALE and at most to
 * MAX_DETECTION_SIDE) and detected again: the faces found in the copy replace the small faces they
 * match (their `upscale` says the factor) and are added when new; faces found only at native size
 * are kept as found.
 */
export async function detectFaces(image: RgbImage, options: DetectOptions = {}): Promise<DetectedFace[]> {
  const native = await detectOnce(image);
  if (!options.upscaleSmallFaces) return native;
  const small = native.filter((face) => eyeDistance(face.keypoints) < UPSCALE_BELOW_EYES);
  if (native.length > 0 && small.length === 0) return native;
  const factor = upscaleFactor(image, small.length > 0 ? Math.min(...small.map((face) => eyeDistance(face.keypoints))) : undefined);
  if (factor === undefined) return native;
  const copy = await resizeRgb(image, Math.round(image.width * factor), Math.round(image.height * factor));
  const back = { x: image.width / copy.width, y: image.height / copy.height };
  const upscaled = (await detectOnce(copy)).map((face) => ({ ...scaleFace(face, back), upscale: factor }));
  const large = native.filter((face) => !small.includes(face));
  const found = upscaled.filter((face) => !large.some((other) => sameFace(face, other)));
  const missed = small.filter((face) => !found.some((other) => sameFace(face, other)));
  return [...large, ...found, ...missed].sort(byAreaDescending);
}

/** The upscale for an image whose smallest face has eyes `eyes` px apart (none found: undefined), or undefined when not worth it. */
function upscaleFactor(image: RgbImage, eyes: number | undefined): number | undefined {
  const wanted = eyes === undefined ? MAX_UPSCALE : Math.min(MAX_UPSCALE, UPSCALE_TARGET_EYES / eyes);
  // In quarter steps, so reports read 2.75x rather than 2.79x.
  const factor = Math.floor(Math.min(wanted, MAX_DETECTION_SIDE / Math.max(image.width, image.height)) * 4) / 4;
  return factor >= MIN_UPSCALE ? factor : undefined;
}

function scaleFace(face: DetectedFace, by: Point): DetectedFace {
  const scale = (p: Point): Point => ({ x: p.x * by.x, y: p.y * by.y });
  const keypoints = Object.fromEntries(Object.entries(face.keypoints).map(([key, p]) => [key, scale(p)])) as unknown as FaceKeypoints;
  const box = { ...scale(face.box), width: face.box.width * by.x, height: face.box.height * by.y };
  return { ...face, box, keypoints, yaw: yawFromKeypoints(keypoints) };
}

/** Two detections of one face: eye midpoints less than half an eye distance apart. */
function sameFace(p: DetectedFace, q: DetectedFace): boolean {
  const mid = (k: FaceKeypoints): Point => ({ x: (k.leftEye.x + k.rightEye.x) / 2, y: (k.leftEye.y + k.rightEye.y) / 2 });
  const a = mid(p.keypoints);
  const b = mid(q.keypoints);
  return Math.hypot(a.x - b.x, a.y - b.y) < 0.5 * Math.max(eyeDistance(p.keypoints), eyeDistance(q.keypoints));
}

function byAreaDescending(p: DetectedFace, q: DetectedFace): number {
  return q.box.width * q.box.height - p.box.width * p.box.height;
}

/** One detection pass over the image (shrunk first when larger than MAX_DETECTION_SIDE). */
async function detectOnce(image: RgbImage): Promise<DetectedFace[]> {
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
        return { box, score: detection.score, keypoints, yaw: yawFromKeypoints(keypoints), upscale: 1 };
      })
      .sort(byAreaDescending);
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
