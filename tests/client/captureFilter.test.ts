import { describe, expect, it } from 'vitest';
import {
  CAPTURE_LIMITS,
  faceCountRule,
  greyFromRgba,
  headPose,
  judgeChip,
  laplacianVariance,
  meanAbsoluteDifference,
  type GreyImage,
} from '../../client/src/lib/captureFilter.ts';
import { canonicalKeypoints, CHIP_SIZE, type FaceKeypoints, type Point } from '../../shared/alignment.ts';

/** Deterministic pseudo-random numbers in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function image(size: number, pixel: (x: number, y: number) => number): GreyImage {
  const pixels = new Float32Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) pixels[y * size + x] = pixel(x, y);
  return { width: size, height: size, pixels };
}

/** A chip with sharp detail: 3-pixel blocks of random grey. */
function texturedChip(seed: number): GreyImage {
  const next = random(seed);
  const blocks = Array.from({ length: 50 * 50 }, () => 40 + 180 * next());
  return image(CHIP_SIZE, (x, y) => blocks[Math.floor(y / 3) * 50 + Math.floor(x / 3)]);
}

/** Three passes of a 7x7 box blur, about a Gaussian of 3.5 pixels: an out-of-focus or moving face. */
function blurred(chip: GreyImage): GreyImage {
  let current = chip;
  for (let pass = 0; pass < 3; pass++) {
    const source = current;
    current = image(source.width, (x, y) => {
      let sum = 0;
      let count = 0;
      for (let dy = -3; dy <= 3; dy++) {
        for (let dx = -3; dx <= 3; dx++) {
          const sx = x + dx;
          const sy = y + dy;
          if (sx < 0 || sy < 0 || sx >= source.width || sy >= source.height) continue;
          sum += source.pixels[sy * source.width + sx];
          count++;
        }
      }
      return sum / count;
    });
  }
  return current;
}

function withNoise(chip: GreyImage, amplitude: number, seed: number): GreyImage {
  const next = random(seed);
  return { ...chip, pixels: chip.pixels.map((value) => value + amplitude * (2 * next() - 1)) };
}

/** The keypoints turned by `degrees` about the eyes' midpoint: a tilted head. */
function rotated(keypoints: FaceKeypoints, degrees: number): FaceKeypoints {
  const centre = { x: (keypoints.leftEye.x + keypoints.rightEye.x) / 2, y: (keypoints.leftEye.y + keypoints.rightEye.y) / 2 };
  const [cos, sin] = [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180)];
  const turn = (p: Point) => ({ x: centre.x + cos * (p.x - centre.x) - sin * (p.y - centre.y), y: centre.y + sin * (p.x - centre.x) + cos * (p.y - centre.y) });
  return Object.fromEntries(Object.entries(keypoints).map(([name, p]) => [name, turn(p)])) as unknown as FaceKeypoints;
}

/** The nose moved along the eye line by `share` of the eye distance: a head turned sideways. */
function noseShifted(keypoints: FaceKeypoints, share: number): FaceKeypoints {
  const eyeDistance = keypoints.rightEye.x - keypoints.leftEye.x;
  return { ...keypoints, noseTip: { x: keypoints.noseTip.x + share * eyeDistance, y: keypoints.noseTip.y } };
}

const frontal = canonicalKeypoints();

describe('grey pixels', () => {
  it('takes the BT.601 luma of RGBA pixels and checks the size', () => {
    const grey = greyFromRgba([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 200, 200, 200, 0], 2, 2);
    expect([...grey.pixels].map((v) => Math.round(v * 10) / 10)).toEqual([76.2, 149.7, 29.1, 200]);
    expect(() => greyFromRgba([0, 0, 0], 1, 1)).toThrow(/expected 4 RGBA values/);
  });
});

describe('blur', () => {
  it('measures no sharpness on a flat chip and much more on a detailed one than on the same chip blurred', () => {
    const sharp = texturedChip(1);
    expect(laplacianVariance(image(CHIP_SIZE, () => 128))).toBe(0);
    expect(laplacianVariance(sharp)).toBeGreaterThan(10 * CAPTURE_LIMITS.minSharpness);
    expect(laplacianVariance(blurred(sharp))).toBeLessThan(CAPTURE_LIMITS.minSharpness);
  });

  it('skips a blurred chip and keeps the sharp one', () => {
    const sharp = texturedChip(2);
    expect(judgeChip(sharp, frontal)).toEqual({ kept: true });
    expect(judgeChip(blurred(sharp), frontal)).toEqual({ kept: false, reason: 'blurred' });
  });
});

describe('duplicates', () => {
  it('measures the mean absolute grey difference of two chips of one size', () => {
    const chip = texturedChip(3);
    expect(meanAbsoluteDifference(chip, chip)).toBe(0);
    expect(meanAbsoluteDifference(chip, { ...chip, pixels: chip.pixels.map((v) => v + 10) })).toBeCloseTo(10, 4);
    expect(() => meanAbsoluteDifference(chip, image(10, () => 0))).toThrow(/cannot compare a 150x150 chip with a 10x10 one/);
  });

  it('skips a chip that differs from the last kept one by sensor noise only, and keeps one that changed', () => {
    const last = texturedChip(4);
    expect(judgeChip(withNoise(last, 3, 5), frontal, last)).toEqual({ kept: false, reason: 'duplicate' });
    expect(judgeChip(texturedChip(6), frontal, last)).toEqual({ kept: true });
    // The first chip of a run has nothing to repeat.
    expect(judgeChip(last, frontal, undefined)).toEqual({ kept: true });
  });
});

describe('head pose', () => {
  it('reads a frontal face as neither turned nor tilted, whatever its tilt does to the image axes', () => {
    expect(headPose(frontal)).toEqual({ yaw: 0, rollDegrees: 0 });
    const tilted = headPose(rotated(frontal, 15));
    expect(tilted.yaw).toBeCloseTo(0, 10);
    expect(tilted.rollDegrees).toBeCloseTo(15, 10);
  });

  it('measures a turn as the nose offset from the eyes’ midline in eye distances, either way', () => {
    expect(headPose(noseShifted(frontal, 0.2)).yaw).toBeCloseTo(0.2, 10);
    expect(headPose(rotated(noseShifted(frontal, -0.4), -10)).yaw).toBeCloseTo(-0.4, 10);
  });

  it('skips a turned or tilted head and keeps a slightly turned one', () => {
    const chip = texturedChip(7);
    expect(judgeChip(chip, noseShifted(frontal, 0.2))).toEqual({ kept: true });
    expect(judgeChip(chip, noseShifted(frontal, 0.45))).toEqual({ kept: false, reason: 'turned' });
    expect(judgeChip(chip, noseShifted(frontal, -0.45))).toEqual({ kept: false, reason: 'turned' });
    expect(judgeChip(chip, rotated(frontal, 35))).toEqual({ kept: false, reason: 'tilted' });
    expect(judgeChip(chip, rotated(frontal, -35))).toEqual({ kept: false, reason: 'tilted' });
    expect(judgeChip(chip, { ...frontal, rightEye: frontal.leftEye })).toEqual({ kept: false, reason: 'turned' });
  });
});

describe('face count', () => {
  it('asks for exactly one face', () => {
    expect([0, 1, 2, 5].map(faceCountRule)).toEqual(['none', 'one', 'several', 'several']);
  });
});
