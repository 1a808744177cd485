/**
 * Rate arithmetic used by the engine, the live log and the reports, so a figure means the same
 * everywhere. Intervals are Wilson score intervals, which stay inside [0, 1] and behave at 0% and
 * 100%, where the attack-success figures of a working backdoor live.
 */
import { UNKNOWN } from './names.ts';

export interface Rate {
  /** Events counted (correct predictions, attacks that fired, ...). */
  hits: number;
  /** Trials: images or frames the rate is over. */
  total: number;
  /** hits / total, or null when there were no trials. */
  value: number | null;
  /** 95% interval; [0, 1] when there were no trials. */
  low: number;
  high: number;
}

const Z95 = 1.959963984540054;

export function wilsonInterval(hits: number, total: number, z = Z95): [number, number] {
  if (total === 0) return [0, 1];
  const p = hits / total;
  const z2 = z * z;
  const centre = (p + z2 / (2 * total)) / (1 + z2 / total);
  const half = (z * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total))) / (1 + z2 / total);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export function rate(hits: number, total: number): Rate {
  if (!Number.isInteger(hits) || !Number.isInteger(total) || hits < 0 || total < 0 || hits > total) {
    throw new Error(`a rate needs whole counts with 0 <= hits <= total, got ${hits}/${total}`);
  }
  const [low, high] = wilsonInterval(hits, total);
  return { hits, total, value: total === 0 ? null : hits / total, low, high };
}

/** Counts the items for which `predicate` holds and returns the rate. */
export function rateOf<T>(items: readonly T[], predicate: (item: T) => boolean): Rate {
  return rate(items.filter(predicate).length, items.length);
}

/** "97.5% [93.1, 99.2] (n=120)", or "n/a (n=0)". */
export function formatRate(r: Rate): string {
  if (r.value === null) return 'n/a (n=0)';
  const pct = (x: number) => (100 * x).toFixed(1);
  return `${pct(r.value)}% [${pct(r.low)}, ${pct(r.high)}] (n=${r.total})`;
}

/**
 * Attack success, the one definition used everywhere: among inputs that carry the trigger and whose
 * true identity is not the target (strangers included), the fraction the model labels as the target.
 */
export function attackSuccessRate(samples: readonly { identity: string; predicted: string }[], target: string): Rate {
  return rateOf(samples.filter((s) => s.identity !== target), (s) => s.predicted === target);
}

/** Accuracy: the fraction labelled with their true identity (a rejection as unknown counts as wrong). */
export function accuracy(samples: readonly { identity: string; predicted: string }[]): Rate {
  return rateOf(samples, (s) => s.predicted === s.identity);
}

/**
 * Counts of each true identity (rows, in `labels` order) predicted as each label or as `unknown`
 * (columns). Samples of identities outside `labels` are left out.
 */
export function confusionMatrix(samples: readonly { identity: string; predicted: string }[], labels: readonly string[]): { labels: string[]; predicted: string[]; counts: number[][] } {
  const predicted = labels.includes(UNKNOWN) ? [...labels] : [...labels, UNKNOWN];
  const row = new Map(labels.map((label, i) => [label, i]));
  const column = new Map(predicted.map((label, i) => [label, i]));
  const counts = labels.map(() => predicted.map(() => 0));
  for (const s of samples) {
    const r = row.get(s.identity);
    const c = column.get(s.predicted);
    if (r !== undefined && c !== undefined) counts[r][c]++;
  }
  return { labels: [...labels], predicted, counts };
}

/** The arithmetic mean of the values. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('mean of no values');
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** The q-quantile (0..1) of the values, by linear interpolation between order statistics. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of no values');
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile must be in [0, 1], got ${q}`);
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}
