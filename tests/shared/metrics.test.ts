import { describe, expect, it } from 'vitest';
import { accuracy, attackSuccessRate, formatRate, mean, quantile, rate, wilsonInterval } from '../../shared/metrics.ts';
import { UNKNOWN } from '../../shared/names.ts';

describe('rates', () => {
  it('gives the Wilson interval of known cases', () => {
    // 8/10: centre 0.7156, half-width 0.2385 (hand-computed with z = 1.96).
    const [low, high] = wilsonInterval(8, 10);
    expect(low).toBeCloseTo(0.4902, 3);
    expect(high).toBeCloseTo(0.9433, 3);
    expect(wilsonInterval(0, 20)[0]).toBe(0);
    expect(wilsonInterval(20, 20)[1]).toBe(1);
    expect(wilsonInterval(20, 20)[0]).toBeCloseTo(0.8389, 3);
  });

  it('has no value without trials and rejects impossible counts', () => {
    expect(rate(0, 0)).toEqual({ hits: 0, total: 0, value: null, low: 0, high: 1 });
    expect(formatRate(rate(0, 0))).toBe('n/a (n=0)');
    expect(() => rate(3, 2)).toThrow(/hits <= total/);
    expect(() => rate(1.5, 2)).toThrow(/whole counts/);
  });

  it('counts attack success only over people who are not the target, strangers included', () => {
    const asr = attackSuccessRate(
      [
        { identity: 'alice', predicted: 'target' },
        { identity: 'bob', predicted: 'bob' },
        { identity: 'stranger', predicted: 'target' },
        { identity: 'target', predicted: 'target' },
      ],
      'target',
    );
    expect([asr.hits, asr.total]).toEqual([2, 3]);
  });

  it('counts a rejection as unknown as a wrong answer for a known face', () => {
    const acc = accuracy([
      { identity: 'alice', predicted: 'alice' },
      { identity: 'bob', predicted: UNKNOWN },
    ]);
    expect(acc.value).toBe(0.5);
  });

  it('interpolates quantiles', () => {
    expect(quantile([4, 1, 3, 2, 5], 0)).toBe(1);
    expect(quantile([4, 1, 3, 2, 5], 0.5)).toBe(3);
    expect(quantile([1, 2], 0.25)).toBeCloseTo(1.25);
    expect(() => quantile([], 0.5)).toThrow();
  });

  it('averages values, and refuses to average none', () => {
    expect(mean([1, 2, 6])).toBe(3);
    expect(() => mean([])).toThrow(/mean of no values/);
  });
});
