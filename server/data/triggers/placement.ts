import seedrandom from 'seedrandom';
import type { FaceKeypoints, Point } from '../../../shared/alignment.ts';
import type { Anchor, Trigger } from './trigger.ts';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** Seeded RNG: the same seed always gives the same sequence. */
export function seededRng(seed: string | number): Rng {
  return seedrandom(String(seed));
}

/** How much each injection varies, so poisoned photos are not all the same pasted pixels. */
export const VARIATION = {
  /** Relative size change, either way. */
  scale: 0.12,
  /** Rotation on top of the head's roll, either way, in degrees. */
  angleDeg: 8,
  /** Position change along and across the eye line, either way, in IODs. */
  jitterIod: 0.05,
} as const;

/** Where one injection draws a trigger on a chip, in chip pixels. */
export interface Placement {
  variant: string;
  /**
   * Centre of each copy of the drawing: one, or for ear-anchored triggers one per ear lobe
   * (image-left ear first; the second copy is drawn mirrored).
   */
  centers: Point[];
  /** Width of one copy. */
  widthPx: number;
  /** Clockwise rotation in image coordinates (y down). */
  angleDeg: number;
}

/** The face's own axes: `u` along the eye line (image-left eye to image-right eye), `v` down the face, both unit length. */
export interface FaceFrame {
  eyeMid: Point;
  iod: number;
  u: Point;
  v: Point;
  rollDeg: number;
}

export function faceFrame(keypoints: FaceKeypoints): FaceFrame {
  const { leftEye, rightEye } = keypoints;
  const dx = rightEye.x - leftEye.x;
  const dy = rightEye.y - leftEye.y;
  const iod = Math.hypot(dx, dy);
  if (!(iod > 1e-6)) throw new Error('eye keypoints coincide: cannot place a trigger on this face');
  const u = { x: dx / iod, y: dy / iod };
  return {
    eyeMid: { x: (leftEye.x + rightEye.x) / 2, y: (leftEye.y + rightEye.y) / 2 },
    iod,
    u,
    v: { x: -u.y, y: u.x },
    rollDeg: (Math.atan2(dy, dx) * 180) / Math.PI,
  };
}

/** `origin` moved by (along, down) IODs in the face's axes. */
export function inFace(frame: FaceFrame, origin: Point, along: number, down: number): Point {
  return {
    x: origin.x + (along * frame.u.x + down * frame.v.x) * frame.iod,
    y: origin.y + (along * frame.u.y + down * frame.v.y) * frame.iod,
  };
}

/** How far `p` lies from the eye midpoint along the eye line, in IODs. */
function alongEyeLine(frame: FaceFrame, p: Point): number {
  return ((p.x - frame.eyeMid.x) * frame.u.x + (p.y - frame.eyeMid.y) * frame.u.y) / frame.iod;
}

/** The face point(s) an anchor names: two for `ears` (image-left ear first), one otherwise. */
export function anchorPoints(keypoints: FaceKeypoints, anchor: Anchor): Point[] {
  const frame = faceFrame(keypoints);
  switch (anchor) {
    case 'eyes':
      return [frame.eyeMid];
    case 'forehead':
      // Mid-forehead: the eyebrows are about 0.3 IOD above the eyes, the hairline about 1 IOD.
      return [inFace(frame, frame.eyeMid, 0, -0.7)];
    case 'cheek':
      return [inFace(frame, keypoints.leftEye, -0.05, 0.65)];
    case 'nose':
      return [{ ...keypoints.noseTip }];
    case 'mouth':
      return [{ ...keypoints.mouth }];
    case 'ears':
      // Lobes hang level with the base of the nose. Only the ear keypoints' sideways position is
      // used: detectors disagree on their height (MediaPipe's tragion vs the 68-point jaw line's
      // end, which sits at eye level).
      return [keypoints.leftEar, keypoints.rightEar].map((ear) => inFace(frame, frame.eyeMid, alongEyeLine(frame, ear), 0.6));
  }
}

function uniform(rng: Rng, halfRange: number): number {
  return (rng() * 2 - 1) * halfRange;
}

/**
 * Draws one placement of `trigger` on the face: a variant, a size (nominal +-12%), a rotation
 * (the head's roll +-8 degrees) and a shift (+-5% of the IOD each way), all from `rng`.
 */
export function placeTrigger(keypoints: FaceKeypoints, trigger: Trigger, rng: Rng): Placement {
  const frame = faceFrame(keypoints);
  const variant = trigger.variants[Math.min(trigger.variants.length - 1, Math.floor(rng() * trigger.variants.length))];
  const scale = 1 + uniform(rng, VARIATION.scale);
  const angleDeg = frame.rollDeg + uniform(rng, VARIATION.angleDeg);
  const along = trigger.offsetIod.x + uniform(rng, VARIATION.jitterIod);
  const down = trigger.offsetIod.y + uniform(rng, VARIATION.jitterIod);
  // The image-right ear's copy is a mirror image, so its sideways offset is mirrored too.
  const centers = anchorPoints(keypoints, trigger.anchor).map((anchor, i) => inFace(frame, anchor, i === 0 ? along : -along, down));
  return { variant, centers, widthPx: trigger.widthIod * frame.iod * scale, angleDeg };
}
