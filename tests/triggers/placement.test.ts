import { describe, expect, it } from 'vitest';
import { CHIP_SIZE, canonicalKeypoints, type FaceKeypoints, type Point } from '../../shared/alignment.ts';
import {
  CATALOG,
  TRIGGER_NAMES,
  VARIATION,
  faceFrame,
  getTrigger,
  placeTrigger,
  seededRng,
  triggerOverlaySvg,
  type Placement,
} from '../../server/data/triggers/index.ts';

const SEEDS = Array.from({ length: 40 }, (_, i) => i);

function rotateFace(keypoints: FaceKeypoints, degrees: number): FaceKeypoints {
  const a = (degrees * Math.PI) / 180;
  const c = CHIP_SIZE / 2;
  const turn = (p: Point): Point => ({
    x: c + (p.x - c) * Math.cos(a) - (p.y - c) * Math.sin(a),
    y: c + (p.x - c) * Math.sin(a) + (p.y - c) * Math.cos(a),
  });
  return Object.fromEntries(Object.entries(keypoints).map(([k, p]) => [k, turn(p)])) as unknown as FaceKeypoints;
}

/** `p` in the face's axes, in IODs from the eye midpoint: x along the eye line, y down the face. */
function inFaceUnits(keypoints: FaceKeypoints, p: Point): Point {
  const f = faceFrame(keypoints);
  const dx = p.x - f.eyeMid.x;
  const dy = p.y - f.eyeMid.y;
  return { x: (dx * f.u.x + dy * f.u.y) / f.iod, y: (dx * f.v.x + dy * f.v.y) / f.iod };
}

function placements(name: string, keypoints: FaceKeypoints): Placement[] {
  return SEEDS.map((seed) => placeTrigger(keypoints, getTrigger(name), seededRng(seed)));
}

describe.each([
  ['upright', canonicalKeypoints()],
  ['rolled 20 degrees', rotateFace(canonicalKeypoints(), 20)],
])('placement on an %s face', (_, face) => {
  it('centres sunglasses between the eyes', () => {
    for (const p of placements('sunglasses', face)) {
      expect(p.centers).toHaveLength(1);
      const c = inFaceUnits(face, p.centers[0]);
      expect(Math.abs(c.x)).toBeLessThan(0.1);
      expect(Math.abs(c.y)).toBeLessThan(0.12);
    }
  });

  it('puts the bandana above the eyes, across the forehead', () => {
    for (const p of placements('bandana', face)) {
      const c = inFaceUnits(face, p.centers[0]);
      expect(c.y).toBeLessThan(-0.7);
      expect(Math.abs(c.x)).toBeLessThan(0.1);
      expect(p.widthPx / faceFrame(face).iod).toBeGreaterThan(2.2);
    }
  });

  it('hangs earrings below both ears, outside the eyes', () => {
    const left = inFaceUnits(face, face.leftEar);
    const right = inFaceUnits(face, face.rightEar);
    for (const p of placements('earrings', face)) {
      expect(p.centers).toHaveLength(2);
      const [l, r] = p.centers.map((c) => inFaceUnits(face, c));
      expect(l.y).toBeGreaterThan(left.y + 0.3);
      expect(r.y).toBeGreaterThan(right.y + 0.3);
      expect(l.x).toBeLessThan(-0.5 - 0.4);
      expect(r.x).toBeGreaterThan(0.5 + 0.4);
      expect(Math.abs(l.x - left.x)).toBeLessThan(0.1);
      expect(Math.abs(r.x - right.x)).toBeLessThan(0.1);
    }
  });

  it.each(['tape', 'tattoo'])('puts %s on the image-left cheek, below the eye', (name) => {
    for (const p of placements(name, face)) {
      const c = inFaceUnits(face, p.centers[0]);
      expect(c.x).toBeLessThan(-0.3);
      expect(c.x).toBeGreaterThan(-1.1);
      expect(c.y).toBeGreaterThan(0.2);
      expect(c.y).toBeLessThan(1);
    }
  });

  it('turns every trigger with the eye line, within the allowed extra tilt', () => {
    const roll = faceFrame(face).rollDeg;
    for (const name of TRIGGER_NAMES) {
      for (const p of placements(name, face)) expect(Math.abs(p.angleDeg - roll)).toBeLessThanOrEqual(VARIATION.angleDeg);
    }
  });
});

describe('variation', () => {
  const face = canonicalKeypoints();
  const iod = faceFrame(face).iod;

  it('keeps size and position within the allowed range', () => {
    for (const trigger of CATALOG) {
      const nominal = placeTrigger(face, trigger, () => 0.5);
      for (const p of placements(trigger.name, face)) {
        expect(p.widthPx / (trigger.widthIod * iod)).toBeGreaterThanOrEqual(1 - VARIATION.scale);
        expect(p.widthPx / (trigger.widthIod * iod)).toBeLessThanOrEqual(1 + VARIATION.scale);
        p.centers.forEach((c, i) => {
          expect(Math.abs(c.x - nominal.centers[i].x)).toBeLessThanOrEqual(VARIATION.jitterIod * iod + 1e-9);
          expect(Math.abs(c.y - nominal.centers[i].y)).toBeLessThanOrEqual(VARIATION.jitterIod * iod + 1e-9);
        });
      }
    }
  });

  it('gives different placements for different seeds and the same for the same seed', () => {
    const trigger = getTrigger('sunglasses');
    expect(placeTrigger(face, trigger, seededRng(1))).toEqual(placeTrigger(face, trigger, seededRng(1)));
    expect(placeTrigger(face, trigger, seededRng(1))).not.toEqual(placeTrigger(face, trigger, seededRng(2)));
  });

  it('uses every variant of every trigger across seeds', () => {
    const seeds = Array.from({ length: 300 }, (_, i) => i);
    for (const trigger of CATALOG) {
      const used = new Set(seeds.map((seed) => placeTrigger(face, trigger, seededRng(seed)).variant));
      expect([...used].sort()).toEqual([...trigger.variants].sort());
    }
  });
});

describe('catalogue', () => {
  it('holds the six triggers of the paper and the lookalikes (clear eyeglasses, headband, cap)', () => {
    expect([...TRIGGER_NAMES].sort()).toEqual(['bandana', 'cap', 'dots', 'earrings', 'eyeglasses', 'headband', 'sunglasses', 'tape', 'tattoo']);
  });

  it('names the available triggers when asked for an unknown one', () => {
    expect(() => getTrigger('hat')).toThrow(/unknown trigger "hat"; available: sunglasses, bandana, dots, tape, tattoo, earrings/);
  });

  it('names the available variants when asked for an unknown one', () => {
    expect(() => getTrigger('sunglasses').draw('heart-pink')).toThrow(/unknown sunglasses variant "heart-pink"; available: wayfarer-black, wayfarer-grey/);
    expect(() => getTrigger('bandana').draw('toString')).toThrow(/available: paisley-red, paisley-blue, paisley-black, paisley-green, solid-red/);
  });

  it('draws every variant as SVG', () => {
    for (const trigger of CATALOG) {
      for (const variant of trigger.variants) {
        const placement = { variant, centers: [{ x: 75, y: 75 }, { x: 100, y: 75 }], widthPx: 40, angleDeg: 0 };
        expect(triggerOverlaySvg(trigger, placement, CHIP_SIZE, CHIP_SIZE)).toMatch(/^<svg [^]*<\/svg>$/);
      }
    }
  });
});
