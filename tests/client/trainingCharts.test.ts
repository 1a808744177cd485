import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { describe, expect, it } from 'vitest';
import { CURVE_NAMES, trainingCurvesChart } from '../../shared/trainingCharts.ts';

describe('training curves chart', () => {
  it('plots each model’s loss per epoch, the backdoored model on clean and on poison images apart', async () => {
    const spec = trainingCurvesChart({ clean: [1.2, 0.6], backdoorOnClean: [1.3, 0.7], backdoorOnPoison: [2.5, 0.9] }) as TopLevelSpec & { data: { values: { epoch: number; loss: number; curve: string }[] } };
    expect(spec.data.values).toEqual([
      { epoch: 1, loss: 1.2, curve: CURVE_NAMES.clean },
      { epoch: 2, loss: 0.6, curve: CURVE_NAMES.clean },
      { epoch: 1, loss: 1.3, curve: CURVE_NAMES.backdoorOnClean },
      { epoch: 2, loss: 0.7, curve: CURVE_NAMES.backdoorOnClean },
      { epoch: 1, loss: 2.5, curve: CURVE_NAMES.backdoorOnPoison },
      { epoch: 2, loss: 0.9, curve: CURVE_NAMES.backdoorOnPoison },
    ]);
    const view = new View(parse(compile(spec).spec), { renderer: 'none' });
    const svg = await view.toSVG();
    view.finalize();
    expect(svg).toContain('<svg');
    expect(svg).toContain(CURVE_NAMES.backdoorOnPoison);
  });
});
