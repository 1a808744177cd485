import type { TopLevelSpec } from 'vega-lite';
import type { TrainingCurves } from './api.ts';

interface LossPoint { epoch: number; loss: number; curve: string; learningRate?: number }

export const CURVE_NAMES = {
  clean: 'clean model',
  backdoorOnClean: 'backdoored model, clean images',
  backdoorOnPoison: 'backdoored model, poison images',
} as const satisfies Record<keyof TrainingCurves, string>;

function lossPoints(curves: TrainingCurves, learningRate?: number): LossPoint[] {
  return CURVE_KEYS.flatMap((key) => curves[key].map((loss, i) => ({ epoch: i + 1, loss, curve: CURVE_NAMES[key], learningRate })));
}

const CURVE_KEYS = Object.keys(CURVE_NAMES) as (keyof TrainingCurves)[];
const lineEncoding = {
  x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
  y: { field: 'loss', type: 'quantitative', title: 'mean training loss' },
  color: { field: 'curve', type: 'nominal', title: null, sort: CURVE_KEYS.map((key) => CURVE_NAMES[key]) },
  strokeDash: { field: 'curve', type: 'nominal', title: null, sort: CURVE_KEYS.map((key) => CURVE_NAMES[key]) },
} as const;

/**
 * Training loss per epoch of the clean model and of the backdoored model on its clean and its
 * poison images apart (Wenger et al., Figure 2): a backdoor that is learned drives the poison loss
 * down with the clean loss.
 */
export function trainingCurvesChart(curves: TrainingCurves): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Training loss per epoch',
    width: 420,
    height: 220,
    data: { values: lossPoints(curves) },
    mark: { type: 'line', point: true },
    encoding: { ...lineEncoding, tooltip: [{ field: 'curve' }, { field: 'epoch' }, { field: 'loss', format: '.4f' }] },
  };
}

/** The same curves for a sweep of learning rates, a panel per rate (the paper's Figure 2 itself). */
export function learningRateSweepChart(runs: readonly { learningRate: number; curves: TrainingCurves }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Training loss per epoch, by learning rate',
    data: { values: runs.flatMap((run) => lossPoints(run.curves, run.learningRate)) },
    facet: { column: { field: 'learningRate', type: 'ordinal', title: 'learning rate', sort: runs.map((run) => run.learningRate) } },
    spec: { width: 260, height: 200, mark: { type: 'line', point: true }, encoding: { ...lineEncoding, tooltip: [{ field: 'curve' }, { field: 'epoch' }, { field: 'loss', format: '.4f' }] } },
  };
}
