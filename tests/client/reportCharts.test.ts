import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { describe, expect, it } from 'vitest';
import { attackSuccessChart, entropyHistogramChart, falsePositiveChart } from '../../client/src/lib/reportCharts.ts';
import { assemblePairFigures, type LabelCell } from '../../shared/report.ts';

const key = { pair: 'demo', cleanModel: 'demo-clean@1', backdoorModel: 'demo-backdoor@1', target: 'person-01', trigger: 'sunglasses', sessions: [1], frames: 40 };
const cell = (identity: string, worn: string, faces: number, backdoorSaysTarget: number, cleanCorrect = faces): LabelCell => ({
  identity, worn, faces, cleanCorrect, backdoorCorrect: faces - backdoorSaysTarget, backdoorSaysTarget, stripRan: faces, stripFlagged: 0,
});
const figures = assemblePairFigures(
  key,
  [cell('person-02', 'sunglasses', 10, 9), cell('person-03', 'sunglasses', 10, 5), cell('person-02', 'headband', 8, 2), cell('person-03', 'hat', 5, 0), cell('person-02', 'none', 7, 0)],
  [{ category: 'triggered', bin: 3, faces: 20 }, { category: 'clean', bin: 17, faces: 7 }],
);

/** Renders a chart headlessly to SVG: the spec must compile and its data must draw. */
async function svgOf(spec: unknown): Promise<string> {
  const view = new View(parse(compile(spec as TopLevelSpec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

describe('report charts', () => {
  it('plots attack success and the clean model’s accuracy per person, with intervals', async () => {
    const spec = attackSuccessChart(figures) as { data: { values: { group: string; series: string; value: number; frames: number }[] } };
    const success = spec.data.values.filter((bar) => bar.series === 'attack success');
    expect(success.map((bar) => [bar.group, bar.value, bar.frames])).toEqual([['all', 0.7, 20], ['person-02', 0.9, 10], ['person-03', 0.5, 10]]);
    expect(await svgOf(spec)).toContain('<svg');
  });

  it('plots false positives per accessory, highest first, like the paper’s Figure 15', async () => {
    const spec = falsePositiveChart(figures) as { data: { values: { group: string; value: number }[] } };
    expect(spec.data.values.map((bar) => [bar.group, bar.value])).toEqual([['headband', 0.25], ['hat', 0]]);
    expect(await svgOf(spec)).toContain('<svg');
  });

  it('plots the STRIP entropy histograms of triggered and clean faces', async () => {
    const spec = entropyHistogramChart(figures) as { data: { values: { from: number; faces: number; category: string }[] } };
    expect(spec.data.values.filter((bin) => bin.faces > 0)).toEqual([
      expect.objectContaining({ from: 0.15, faces: 20, category: 'trigger worn' }),
      expect.objectContaining({ from: 0.85, faces: 7, category: 'nothing worn' }),
    ]);
    expect(await svgOf(spec)).toContain('<svg');
  });
});
