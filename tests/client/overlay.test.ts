import { describe, expect, it } from 'vitest';
import { displayBox, matchByBox, percent } from '../../client/src/lib/overlay.ts';
import { RateMeter } from '../../client/src/lib/rate.ts';
import type { Box, FacePrediction } from '../../shared/protocol.ts';

const prediction = (box: Box, label: string): FacePrediction => {
  const verdict = { label, confidence: 0.9, top: [{ label, probability: 0.9 }] };
  return { box, clean: verdict, backdoor: verdict, attack: false };
};

describe('overlay geometry', () => {
  it('gives each current face the verdict computed on the same face a round trip ago', () => {
    const left = { x: 10, y: 10, width: 100, height: 100 };
    const right = { x: 300, y: 10, width: 100, height: 100 };
    const verdicts = [prediction({ ...right, x: 308 }, 'person-02'), prediction({ ...left, x: 14 }, 'person-01')];
    const stranger = { x: 600, y: 300, width: 50, height: 50 };
    expect(matchByBox([left, right, stranger], verdicts).map((v) => v?.clean.label)).toEqual(['person-01', 'person-02', undefined]);
  });

  it('hands each verdict to one face only', () => {
    const face = { x: 0, y: 0, width: 100, height: 100 };
    const matched = matchByBox([face, { ...face, x: 10 }], [prediction(face, 'person-01')]);
    expect(matched.map((v) => v?.clean.label)).toEqual(['person-01', undefined]);
  });

  it('places boxes in percent of the frame, flipped for the mirrored camera preview', () => {
    const frame = { width: 640, height: 480 };
    const box = { x: 64, y: 48, width: 128, height: 96 };
    expect(displayBox(box, frame, false)).toEqual({ x: 10, y: 10, width: 20, height: 20 });
    expect(displayBox(box, frame, true)).toEqual({ x: 70, y: 10, width: 20, height: 20 });
  });

  it('writes confidences as whole percent', () => {
    expect(percent(0.914)).toBe('91%');
    expect(percent(1)).toBe('100%');
  });
});

describe('rate meter', () => {
  it('counts events per second over the last second and falls to zero when they stop', () => {
    const meter = new RateMeter();
    for (let t = 0; t < 1000; t += 100) meter.record(t);
    expect(meter.perSecond(950)).toBe(10);
    expect(meter.perSecond(1450)).toBe(5);
    expect(meter.perSecond(3000)).toBe(0);
  });
});
