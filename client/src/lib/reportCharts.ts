import type { VisualizationSpec } from 'vega-embed';
import type { Rate } from '../../../shared/metrics.ts';
import type { PairFigures, RateByPerson } from '../../../shared/report.ts';

/** One bar of a rate chart: the rate with its 95% interval and the frames it is over. */
export interface RateBar { group: string; series: string; value: number; low: number; high: number; frames: number }

function bar(group: string, series: string, rate: Rate): RateBar[] {
  return rate.value === null ? [] : [{ group, series, value: rate.value, low: rate.low, high: rate.high, frames: rate.total }];
}

function perPersonBars(series: string, rates: RateByPerson): RateBar[] {
  return [...bar('all', series, rates.overall), ...Object.entries(rates.byPerson).flatMap(([person, rate]) => bar(person, series, rate))];
}

/** Grouped bars with interval whiskers; `groups` fixes the bar order. */
function rateChart(title: string, axis: string, bars: RateBar[], groups: string[]): VisualizationSpec {
  const x = { field: 'group', type: 'nominal', title: axis, sort: groups } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    width: { step: 28 },
    height: 220,
    data: { values: bars },
    layer: [
      {
        mark: 'bar',
        encoding: {
          x,
          xOffset: { field: 'series' },
          y: { field: 'value', type: 'quantitative', title: 'rate', scale: { domain: [0, 1] }, axis: { format: '%' } },
          color: { field: 'series', type: 'nominal', title: null },
          tooltip: [{ field: 'group' }, { field: 'series' }, { field: 'value', format: '.1%' }, { field: 'low', format: '.1%' }, { field: 'high', format: '.1%' }, { field: 'frames' }],
        },
      },
      { mark: 'rule', encoding: { x, xOffset: { field: 'series' }, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' } } },
    ],
  };
}

/** Attack success (backdoored model says the target) and the clean model's accuracy on the same triggered frames, per person. */
export function attackSuccessChart(figures: PairFigures): VisualizationSpec {
  const bars = [...perPersonBars('attack success', figures.attack.successRate), ...perPersonBars('clean model accuracy', figures.attack.cleanModelAccuracy)];
  return rateChart(`Attack success, trigger "${figures.trigger}" → ${figures.target}`, 'person', bars, ['all', ...Object.keys(figures.attack.successRate.byPerson)]);
}

/** The paper's Figure 15: how often a lookalike accessory makes the backdoored model say the target, highest first. */
export function falsePositiveChart(figures: PairFigures): VisualizationSpec {
  const bars = figures.falsePositives.flatMap(({ accessory, rate }) => bar(accessory, 'false positives', rate.overall));
  return rateChart('False positives per accessory', 'accessory', bars, figures.falsePositives.map((fp) => fp.accessory));
}

/** STRIP entropy of triggered and clean faces; the defence flags faces below its threshold. */
export function entropyHistogramChart(figures: PairFigures): VisualizationSpec {
  const { edges, triggered, clean } = figures.strip.histogram;
  const values = edges.slice(0, -1).flatMap((from, i) => [
    { from, to: edges[i + 1], faces: triggered[i], category: 'trigger worn' },
    { from, to: edges[i + 1], faces: clean[i], category: 'nothing worn' },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'STRIP entropy (normalised by ln of the class count)',
    width: 360,
    height: 200,
    data: { values },
    mark: { type: 'bar', opacity: 0.7 },
    encoding: {
      x: { field: 'from', type: 'quantitative', bin: { binned: true, step: edges[1] - edges[0] }, title: 'entropy', scale: { domain: [0, 1] } },
      x2: { field: 'to' },
      y: { field: 'faces', type: 'quantitative', stack: null, title: 'faces' },
      color: { field: 'category', type: 'nominal', title: null },
    },
  };
}
