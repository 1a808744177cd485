import type { TopLevelSpec } from 'vega-lite';
import type { FpStudyResult } from './experiments.ts';

/** A panel of a side-by-side chart (vega-lite does not export the type). */
type TopLevelConcatPanel = Extract<TopLevelSpec, { hconcat: unknown }>['hconcat'][number];

/**
 * Vega-Lite specs of the experiments' figures. Pure and in shared/, so the server renders them to
 * SVG (server/experiments/renderChart.ts) and a page can embed the same spec.
 */

export const BEFORE_FP_TRAINING = 'before false-positive training';
export const AFTER_FP_TRAINING = 'after false-positive training';
export const TRAINED_ON = 'trained on (false-positive training)';
export const NEVER_TRAINED_ON = 'never trained on';

/** One bar: a model's false-positive rate on one accessory, with its 95% interval. */
export interface FalsePositiveBar {
  accessory: string;
  set: typeof TRAINED_ON | typeof NEVER_TRAINED_ON;
  model: typeof BEFORE_FP_TRAINING | typeof AFTER_FP_TRAINING;
  value: number;
  low: number;
  high: number;
  photos: number;
}

export function falsePositiveBars(result: FpStudyResult): FalsePositiveBar[] {
  return result.accessories.flatMap(({ accessory, trainedOn, before, after }) =>
    ([[BEFORE_FP_TRAINING, before], [AFTER_FP_TRAINING, after]] as const).flatMap(([model, rate]) =>
      rate.value === null ? [] : [{ accessory, set: trainedOn ? TRAINED_ON : NEVER_TRAINED_ON, model, value: rate.value, low: rate.low, high: rate.high, photos: rate.total }],
    ),
  );
}

/**
 * The paper's Figure 15: per lookalike accessory, how often the backdoored model answers the target
 * for other people wearing it, before and after false-positive training (grouped bars, Wilson
 * interval whiskers), the accessories trained on in a panel of their own.
 */
export function falsePositiveStudyChart(result: FpStudyResult): TopLevelSpec {
  const xOffset = { field: 'model', type: 'nominal', sort: [BEFORE_FP_TRAINING, AFTER_FP_TRAINING] } as const;
  const sets = [
    { set: TRAINED_ON, accessories: result.accessories.filter((a) => a.trainedOn) },
    { set: NEVER_TRAINED_ON, accessories: result.accessories.filter((a) => !a.trainedOn) },
  ].filter(({ accessories }) => accessories.length > 0);
  // Side-by-side panels rather than a facet: a facet with an independent x scale cannot tell that
  // the bars and the whiskers read the same data, and warns.
  const panels: TopLevelConcatPanel[] = sets.map(({ set, accessories }, index) => {
    const x = { field: 'accessory', type: 'nominal', title: null, sort: accessories.map((a) => a.accessory), axis: { labelAngle: -35 } } as const;
    return {
      title: { text: set, fontSize: 12 },
      transform: [{ filter: { field: 'set', equal: set } }],
      width: { step: 44 },
      height: 240,
      layer: [
        {
          mark: 'bar' as const,
          encoding: {
            x,
            xOffset,
            y: { field: 'value', type: 'quantitative' as const, stack: null, title: index === 0 ? 'false-positive rate' : null, scale: { domain: [0, 1] }, axis: { format: '%' } },
            color: { field: 'model', type: 'nominal' as const, title: null, scale: { domain: [BEFORE_FP_TRAINING, AFTER_FP_TRAINING] }, legend: { orient: 'bottom', labelLimit: 0 } },
            tooltip: [{ field: 'accessory' }, { field: 'model' }, { field: 'value', format: '.1%' }, { field: 'low', format: '.1%' }, { field: 'high', format: '.1%' }, { field: 'photos' }],
          },
        },
        { mark: 'rule' as const, encoding: { x, xOffset, y: { field: 'low', type: 'quantitative' as const }, y2: { field: 'high' } } },
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `False positives of the "${result.trigger}" backdoor (target ${result.target})`,
      subtitle: ['held-out photos of people other than the target wearing a lookalike, answered as the target', 'whiskers: 95% Wilson interval'],
    },
    data: { values: falsePositiveBars(result) },
    hconcat: panels,
    resolve: { scale: { y: 'shared', color: 'shared' } },
  };
}
