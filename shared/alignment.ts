/**
 * Face alignment shared by the browser (live crops) and the server (import, injection): a face is
 * cut into a CHIP_SIZE x CHIP_SIZE chip by the similarity transform that puts the eye centres at
 * fixed positions. Browser and server must use this one rule, or the model sees different crops
 * live than it was trained on.
 *
 * The chip is loosely padded: eyes at 40% of the height leave the forehead and hair above them
 * (where a bandana sits) and an inter-ocular distance of 28% of the width leaves room for both
 * ears (where earrings sit).
 */
export const CHIP_SIZE = 150;

export interface Point { x: number; y: number }

/** The six keypoints MediaPipe's face detector reports; the server derives the same six from face-api's 68 landmarks. */
export interface FaceKeypoints {
  /** Eye on the image's left side (the subject's right eye). */
  leftEye: Point;
  rightEye: Point;
  noseTip: Point;
  mouth: Point;
  leftEar: Point;
  rightEar: Point;
}

export const CANONICAL_LEFT_EYE: Point = { x: 0.36 * CHIP_SIZE, y: 0.4 * CHIP_SIZE };
export const CANONICAL_RIGHT_EYE: Point = { x: 0.64 * CHIP_SIZE, y: 0.4 * CHIP_SIZE };

/**
 * 2-D affine matrix in canvas order: x' = a*x + c*y + e, y' = b*x + d*y + f
 * (the argument order of CanvasRenderingContext2D.setTransform and DOMMatrix).
 */
export interface Affine { a: number; b: number; c: number; d: number; e: number; f: number }

export function applyAffine(m: Affine, p: Point): Point {
  return { x: m.a * p.x + m.c * p.y + m.e, y: m.b * p.x + m.d * p.y + m.f };
}

export function invertAffine(m: Affine): Affine {
  const det = m.a * m.d - m.b * m.c;
  if (Math.abs(det) < 1e-12) throw new Error('alignment transform is singular');
  return {
    a: m.d / det,
    b: -m.b / det,
    c: -m.c / det,
    d: m.a / det,
    e: (m.c * m.f - m.d * m.e) / det,
    f: (m.b * m.e - m.a * m.f) / det,
  };
}

/** The similarity transform taking image coordinates to chip coordinates, from the two eye centres. */
export function alignmentTransform(leftEye: Point, rightEye: Point): Affine {
  const sx = rightEye.x - leftEye.x;
  const sy = rightEye.y - leftEye.y;
  const sourceDistance = Math.hypot(sx, sy);
  if (!(sourceDistance > 1e-6)) throw new Error('eye centres coincide: cannot align the face');
  const tx = CANONICAL_RIGHT_EYE.x - CANONICAL_LEFT_EYE.x;
  const ty = CANONICAL_RIGHT_EYE.y - CANONICAL_LEFT_EYE.y;
  const scale = Math.hypot(tx, ty) / sourceDistance;
  const angle = Math.atan2(ty, tx) - Math.atan2(sy, sx);
  const a = scale * Math.cos(angle);
  const b = scale * Math.sin(angle);
  return {
    a,
    b,
    c: -b,
    d: a,
    e: CANONICAL_LEFT_EYE.x - (a * leftEye.x - b * leftEye.y),
    f: CANONICAL_LEFT_EYE.y - (b * leftEye.x + a * leftEye.y),
  };
}

/** Keypoints of a face moved into its aligned chip. */
export function keypointsInChip(keypoints: FaceKeypoints): FaceKeypoints {
  const m = alignmentTransform(keypoints.leftEye, keypoints.rightEye);
  const out = {} as FaceKeypoints;
  for (const key of Object.keys(keypoints) as (keyof FaceKeypoints)[]) out[key] = applyAffine(m, keypoints[key]);
  return out;
}

/**
 * Where the keypoints of an average frontal face fall in an aligned chip, for chips whose own
 * landmarks are unknown (images imported as pre-cropped faces).
 */
export function canonicalKeypoints(): FaceKeypoints {
  const iod = CANONICAL_RIGHT_EYE.x - CANONICAL_LEFT_EYE.x;
  const midX = (CANONICAL_LEFT_EYE.x + CANONICAL_RIGHT_EYE.x) / 2;
  const eyeY = CANONICAL_LEFT_EYE.y;
  return {
    leftEye: { ...CANONICAL_LEFT_EYE },
    rightEye: { ...CANONICAL_RIGHT_EYE },
    noseTip: { x: midX, y: eyeY + 0.55 * iod },
    mouth: { x: midX, y: eyeY + 1.05 * iod },
    leftEar: { x: midX - 1.2 * iod, y: eyeY + 0.35 * iod },
    rightEar: { x: midX + 1.2 * iod, y: eyeY + 0.35 * iod },
  };
}
