import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { blendPixels, calibrateStripThreshold, drawPartners, normalisedMeanEntropy, shannonEntropy, stripStatus } from '../../server/defense/strip.ts';

describe('STRIP entropy arithmetic', () => {
  it('computes the Shannon entropy of a probability row in nats', () => {
    expect(shannonEntropy([1, 0, 0])).toBe(0);
    expect(shannonEntropy([0.5, 0.5])).toBeCloseTo(Math.LN2, 12);
    expect(shannonEntropy([0.25, 0.25, 0.25, 0.25])).toBeCloseTo(Math.log(4), 12);
    // -(0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1) = 0.249672 + 0.321888 + 0.230259
    expect(shannonEntropy([0.7, 0.2, 0.1])).toBeCloseTo(0.801819, 6);
  });

  it('averages over the blends and normalises by ln(classes) into [0, 1]', () => {
    // (0 + ln 4) / 2 / ln 4
    expect(normalisedMeanEntropy([[1, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]])).toBeCloseTo(0.5, 12);
    // ln 2 / ln 4
    expect(normalisedMeanEntropy([[0.5, 0.5, 0, 0]])).toBeCloseTo(0.5, 12);
    expect(normalisedMeanEntropy([[0.2, 0.2, 0.2, 0.2, 0.2]])).toBeCloseTo(1, 12);
    expect(() => normalisedMeanEntropy([])).toThrow(/no blends/);
    expect(() => normalisedMeanEntropy([[1]])).toThrow(/at least 2 classes/);
  });

  it('blends two images half and half on raw pixel values', () => {
    expect(Array.from(blendPixels([0, 255, 100], [255, 255, 51]))).toEqual([127.5, 255, 75.5]);
    expect(() => blendPixels([1, 2], [1])).toThrow(/2 and 1 values/);
  });

  it('draws distinct blend partners, never the excluded chip, and cycles through a small pool', () => {
    const rng = seedrandom('partners');
    const drawn = drawPartners(64, 16, rng);
    expect(new Set(drawn).size).toBe(16);
    for (let i = 0; i < 20; i++) expect(drawPartners(5, 4, rng, 2)).not.toContain(2);
    const cycled = drawPartners(3, 7, rng);
    expect([...cycled.slice(0, 3)].sort()).toEqual([0, 1, 2]);
    for (const index of [0, 1, 2]) expect(cycled.filter((i) => i === index).length).toBeGreaterThanOrEqual(2);
    expect(() => drawPartners(1, 4, rng, 0)).toThrow(/at least one clean reference chip/);
  });
});

describe('STRIP threshold', () => {
  it('sits at the false-rejection quantile of clean entropies, and flags strictly below it', () => {
    const entropies = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
    // position 0.05 * 9 = 0.45 between 0.1 and 0.2
    expect(calibrateStripThreshold(entropies, 0.05)).toBeCloseTo(0.145, 12);
    expect(calibrateStripThreshold(entropies, 0.5)).toBeCloseTo(0.55, 12);
    expect(calibrateStripThreshold(entropies)).toBeCloseTo(0.145, 12);
    const atZero = calibrateStripThreshold(entropies, 0);
    expect(entropies.filter((e) => stripStatus(e, atZero) === 'flagged')).toEqual([]);
    expect(stripStatus(0.1, 0.2)).toBe('flagged');
    expect(stripStatus(0.2, 0.2)).toBe('passed');
    expect(() => calibrateStripThreshold([], 0.05)).toThrow(/without held-out clean entropies/);
    expect(() => calibrateStripThreshold(entropies, 1)).toThrow(/\[0, 1\)/);
  });

  it('yields the configured false-rejection rate on fresh held-out data, within sampling error', () => {
    const rng = seedrandom('calibration');
    // Clean entropies cluster high, as for a model unsure of face blends.
    const draw = (n: number) => Array.from({ length: n }, () => 1 - rng() ** 3 * 0.8);
    for (const frr of [0.01, 0.05, 0.1]) {
      const threshold = calibrateStripThreshold(draw(4000), frr);
      const heldOut = draw(4000);
      const rejected = heldOut.filter((e) => stripStatus(e, threshold) === 'flagged').length / heldOut.length;
      // calibration and test samples both vary: sd = sqrt(frr (1 - frr) (1/4000 + 1/4000))
      expect(Math.abs(rejected - frr)).toBeLessThan(3 * Math.sqrt(frr * (1 - frr) * (2 / 4000)));
    }
  });
});
