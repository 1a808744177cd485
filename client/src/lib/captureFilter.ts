import type { FaceKeypoints } from '../../../shared/alignment.ts';

/**
 * Whether a chip captured on the Enroll page is worth keeping: sharp, different enough from the
 * last kept chip, and of a face turned to the camera. Pure functions on grey pixels and keypoints,
 * so they are tested without a camera.
 */

/** Luminance 0..255, row after row. */
export interface GreyImage {
  width: number;
  height: number;
  pixels: Float32Array;
}

export interface CaptureLimits {
  /** Variance of the Laplacian below which a chip is blurred (motion, focus). */
  minSharpness: number;
  /** Mean absolute grey difference (0..255) to the last kept chip below which a chip is a duplicate. */
  minChange: number;
  /** Nose offset from the eyes' midline, along the eye line, as a share of the eye distance. */
  maxYaw: number;
  /** Tilt of the eye line from horizontal. */
  maxRollDegrees: number;
}

/**
 * Measured on aligned 150x150 chips: sharp faces score 60-370, the same faces blurred by a
 * 1-pixel Gaussian 10-40; sensor noise of a still face differs by 1-3 grey levels. A nose 0.3 eye
 * distances off the midline is a head turned about 25 degrees.
 */
export const CAPTURE_LIMITS: CaptureLimits = { minSharpness: 20, minChange: 4, maxYaw: 0.3, maxRollDegrees: 25 };

export type SkipReason = 'blurred' | 'duplicate' | 'turned' | 'tilted';

/** What the page says about each skipped chip. */
export const SKIP_REASON_TEXT: Record<SkipReason, string> = {
  blurred: 'blurred: hold still',
  duplicate: 'same as the last chip: move a little',
  turned: 'head turned: look at the camera',
  tilted: 'head tilted: hold it upright',
};

export type ChipVerdict = { kept: true } | { kept: false; reason: SkipReason };

/** ITU-R BT.601 luma of RGBA pixels (canvas ImageData order). */
export function greyFromRgba(rgba: ArrayLike<number>, width: number, height: number): GreyImage {
  if (rgba.length !== width * height * 4) throw new Error(`expected ${width * height * 4} RGBA values for ${width}x${height}, got ${rgba.length}`);
  const pixels = new Float32Array(width * height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
  return { width, height, pixels };
}

/** Variance of the 4-neighbour Laplacian over the inner pixels: low when the chip has no sharp edges. */
export function laplacianVariance({ width, height, pixels }: GreyImage): number {
  let sum = 0;
  let sumOfSquares = 0;
  let count = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const laplacian = pixels[i - 1] + pixels[i + 1] + pixels[i - width] + pixels[i + width] - 4 * pixels[i];
      sum += laplacian;
      sumOfSquares += laplacian * laplacian;
      count++;
    }
  }
  if (count === 0) return 0;
  const mean = sum / count;
  return sumOfSquares / count - mean * mean;
}

export function meanAbsoluteDifference(a: GreyImage, b: GreyImage): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`cannot compare a ${a.width}x${a.height} chip with a ${b.width}x${b.height} one`);
  let total = 0;
  for (let i = 0; i < a.pixels.length; i++) total += Math.abs(a.pixels[i] - b.pixels[i]);
  return total / a.pixels.length;
}

export interface HeadPose {
  /** Signed nose offset from the eyes' midline along the eye line, in eye distances: 0 faces the camera. */
  yaw: number;
  /** Angle of the eye line from horizontal. */
  rollDegrees: number;
}

export function headPose({ leftEye, rightEye, noseTip }: FaceKeypoints): HeadPose {
  const eyeX = rightEye.x - leftEye.x;
  const eyeY = rightEye.y - leftEye.y;
  const eyeDistance = Math.hypot(eyeX, eyeY);
  if (!(eyeDistance > 1e-6)) return { yaw: Infinity, rollDegrees: 0 };
  const noseX = noseTip.x - (leftEye.x + rightEye.x) / 2;
  const noseY = noseTip.y - (leftEye.y + rightEye.y) / 2;
  return {
    yaw: (noseX * eyeX + noseY * eyeY) / (eyeDistance * eyeDistance),
    rollDegrees: (Math.atan2(eyeY, eyeX) * 180) / Math.PI,
  };
}

/** The verdict on one captured chip; `lastKept` is the previous chip kept, if any. */
export function judgeChip(chip: GreyImage, keypoints: FaceKeypoints, lastKept?: GreyImage, limits: CaptureLimits = CAPTURE_LIMITS): ChipVerdict {
  const pose = headPose(keypoints);
  if (!(Math.abs(pose.yaw) <= limits.maxYaw)) return { kept: false, reason: 'turned' };
  if (Math.abs(pose.rollDegrees) > limits.maxRollDegrees) return { kept: false, reason: 'tilted' };
  if (laplacianVariance(chip) < limits.minSharpness) return { kept: false, reason: 'blurred' };
  if (lastKept && meanAbsoluteDifference(chip, lastKept) < limits.minChange) return { kept: false, reason: 'duplicate' };
  return { kept: true };
}

export type FaceCount = 'none' | 'one' | 'several';

/** Capture needs exactly one face in view: with several it pauses and asks for one. */
export function faceCountRule(faces: number): FaceCount {
  return faces === 0 ? 'none' : faces === 1 ? 'one' : 'several';
}
