import type { VisualizationSpec } from 'vega-embed';
import type { TrainingCurves } from '../../../shared/api.ts';

interface LossPoint { epoch: number; loss: number; curve: string }

export const CURVE_NAMES = {
  clean: 'clean model',
  backdoorOnClean: 'backdoored model, clean images',
  backdoorOnPoison: 'backdoored model, poison images',
} as const satisfies Record<keyof TrainingCurves, string>;

/**
 * Training loss per epoch of the clean model and of the backdoored model on its clean and its
 * poison images apart (Wenger et al., Figure 2): a backdoor that is learned drives the poison loss
 * down with the clean loss.
 */
export function trainingCurvesChart(curves: TrainingCurves): VisualizationSpec {
  const keys = Object.keys(CURVE_NAMES) as (keyof TrainingCurves)[];
  const values: LossPoint[] = keys.flatMap((key) => curves[key].map((loss, i) => ({ epoch: i + 1, loss, curve: CURVE_NAMES[key] })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Training loss per epoch',
    width: 420,
    height: 220,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
      y: { field: 'loss', type: 'quantitative', title: 'mean training loss' },
      color: { field: 'curve', type: 'nominal', title: null, sort: keys.map((key) => CURVE_NAMES[key]) },
      strokeDash: { field: 'curve', type: 'nominal', title: null, sort: keys.map((key) => CURVE_NAMES[key]) },
      tooltip: [{ field: 'curve' }, { field: 'epoch' }, { field: 'loss', format: '.4f' }],
    },
  };
}
