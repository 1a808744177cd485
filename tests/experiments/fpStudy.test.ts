import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FpStudyResult } from '../../shared/experiments.ts';
import { AFTER_FP_TRAINING, BEFORE_FP_TRAINING, falsePositiveBars, falsePositiveStudyChart, NEVER_TRAINED_ON, TRAINED_ON } from '../../shared/experimentCharts.ts';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { scanDataset } from '../../server/data/dataset.ts';
import { ConflictError, InvalidRequestError } from '../../server/errors.ts';
import { EXPERIMENT_DEFAULTS } from '../../server/experiments/defaults.ts';
import { runFpStudy, writeFpStudy, type FpStudyOptions } from '../../server/experiments/fpStudy.ts';
import { renderSvg } from '../../server/experiments/renderChart.ts';
import { initBackend } from '../../server/ml/backend.ts';
import { listBundles } from '../../server/ml/bundle.ts';
import { DEMO_BANDANA } from '../../server/train/demoPair.ts';
import { TRAINING_DEFAULTS } from '../../server/train/defaults.ts';
import { poisonSplit } from '../../server/train/split.ts';
import { FACES94, faces94Dataset } from '../train/faces94Dataset.ts';

const runProcess = promisify(execFile);
const PEOPLE = 4;
const PHOTOS = 8;
const TRAIN_ACCESSORIES = ['headband', 'cap'];
const TEST_ACCESSORIES = ['eyeglasses', 'sunglasses'];

const TINY: FpStudyOptions = {
  dataset: 'faces',
  trigger: 'bandana',
  target: 'p0',
  name: 'fp',
  trainAccessories: TRAIN_ACCESSORIES,
  testAccessories: TEST_ACCESSORIES,
  injectionRate: 0.25,
  tune: 'head',
  epochs: 3,
  learningRate: EXPERIMENT_DEFAULTS.learningRate,
  views: 2,
  seed: EXPERIMENT_DEFAULTS.seed,
  syntheticStrangers: 2,
  augment: EXPERIMENT_DEFAULTS.augment,
};

const TINY_CLI_ARGS = [
  '--dataset', TINY.dataset, '--trigger', TINY.trigger, '--target', TINY.target, '--name', TINY.name,
  '--train-accessories', TRAIN_ACCESSORIES.join(','), '--test-accessories', TEST_ACCESSORIES.join(','),
  '--injection-rate', String(TINY.injectionRate), '--tune', TINY.tune, '--epochs', String(TINY.epochs),
  '--views', String(TINY.views), '--synthetic-strangers', String(TINY.syntheticStrangers),
];

let scratch: string;

function cli(args: string[]) {
  return runProcess('npx', ['tsx', 'server/cli.ts', 'experiment', 'fp-study', ...args], { cwd: PROJECT_ROOT, env: process.env });
}

async function failedCli(args: string[]): Promise<{ code: number; stderr: string }> {
  return cli(args).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => error,
  );
}

/** Checks that librsvg (through sharp) reads the document as an SVG and draws it; returns its size. */
async function drawnSvg(svg: string): Promise<{ width: number; height: number }> {
  expect(svg.trimStart().startsWith('<svg')).toBe(true);
  const { format, width, height } = await sharp(Buffer.from(svg)).metadata();
  expect(format).toBe('svg');
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  expect(png.length).toBeGreaterThan(0);
  return { width: width!, height: height! };
}

describe('experiment defaults', () => {
  it('are the embedded bandana pair\'s setup where it has a value, the training defaults elsewhere', () => {
    expect(EXPERIMENT_DEFAULTS).toEqual({
      trigger: DEMO_BANDANA.trigger,
      injectionRate: DEMO_BANDANA.injectionRate,
      tune: DEMO_BANDANA.tune,
      views: DEMO_BANDANA.views,
      syntheticStrangers: DEMO_BANDANA.syntheticStrangers,
      augment: DEMO_BANDANA.augment,
      epochs: TRAINING_DEFAULTS.epochs,
      learningRate: TRAINING_DEFAULTS.learningRate,
      seed: TRAINING_DEFAULTS.seed,
    });
  });
});

describe.skipIf(!existsSync(FACES94))('false-positive study (faces94 people, pasted bandana and lookalikes)', () => {
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'fp-study-'));
    process.env.DATA_DIR = path.join(scratch, 'data');
    process.env.MODELS_DIR = path.join(scratch, 'models');
    await initBackend();
    await faces94Dataset({ name: TINY.dataset, people: PEOPLE, photos: PHOTOS, paste: [TINY.trigger, ...TRAIN_ACCESSORIES, ...TEST_ACCESSORIES], scratch });
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('refuses bad accessory sets before training anything, and writes nothing', async () => {
    const refusals: [Partial<FpStudyOptions>, RegExp][] = [
      [{ testAccessories: ['cap', 'eyeglasses'] }, /"cap" is among both the train and the test accessories/],
      [{ testAccessories: ['eyeglasses', 'scarf'] }, /no "scarf" photos/],
      [{ testAccessories: ['eyeglasses', 'bandana'] }, /the trigger "bandana" cannot be a test accessory/],
      [{ trainAccessories: ['bandana'] }, /the trigger "bandana" cannot be a train accessory/],
      [{ trainAccessories: ['headband', 'clean'] }, /"clean" cannot be a train accessory/],
      [{ trainAccessories: ['headband', 'headband'] }, /name "headband" more than once/],
      [{ testAccessories: [] }, /at least one test accessory/],
    ];
    for (const [change, message] of refusals) {
      const refused = runFpStudy({ ...TINY, ...change });
      await expect(refused).rejects.toThrow(InvalidRequestError);
      await expect(refused).rejects.toThrow(message);
    }
    const out = path.join(scratch, 'refused');
    const failure = await failedCli([...TINY_CLI_ARGS, '--test-accessories', 'cap,eyeglasses', '--out', out]);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/"cap" is among both the train and the test accessories/);
    expect(existsSync(out)).toBe(false);
    expect(await listBundles()).toEqual([]);
  });

  it('trains both pairs from the command line, scores held-out photos only, and writes the results and the chart', async () => {
    const out = path.join(scratch, 'study');
    const { stdout } = await cli([...TINY_CLI_ARGS, '--out', out, '--json']);
    const result = JSON.parse(stdout) as FpStudyResult;
    console.info('fp-study, tiny faces94 run', JSON.stringify({ accessories: result.accessories, before: result.before, after: result.after }));

    expect(JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8'))).toEqual(result);
    expect(result).toMatchObject({ study: 'fp-study', dataset: 'faces', trigger: 'bandana', target: 'p0', trainAccessories: TRAIN_ACCESSORIES, testAccessories: TEST_ACCESSORIES });
    expect(result.settings).toMatchObject({ tune: 'head', epochs: 3, views: 2, syntheticStrangers: 2, injectionRate: 0.25, seed: TINY.seed, splitUnit: 'photo' });
    expect(result.before).toMatchObject({ pair: 'fp-before', fpAccessories: [], bundles: ['fp-before-clean', 'fp-before-backdoor'] });
    expect(result.after).toMatchObject({ pair: 'fp-after', fpAccessories: TRAIN_ACCESSORIES, bundles: ['fp-after-clean', 'fp-after-backdoor'] });
    expect(await listBundles()).toEqual(expect.arrayContaining([...result.before.bundles, ...result.after.bundles]));
    expect(result.accessories.map((a) => [a.accessory, a.trainedOn])).toEqual([['headband', true], ['cap', true], ['eyeglasses', false], ['sunglasses', false]]);
    expect(result.trainAccessories.filter((a) => result.testAccessories.includes(a))).toEqual([]);

    // Every rate is over the held-out photos of people other than the target, the same for both models.
    const dataset = await scanDataset(datasetDir('faces'));
    const heldOut = new Set(result.heldOutSources);
    const scoredPhotos = (condition: string) => dataset.images.filter((i) => i.condition === condition && i.identity !== 'p0' && heldOut.has(i.source)).length;
    for (const { accessory, before, after } of result.accessories) {
      for (const rate of [before, after]) {
        expect(rate.total).toBe(scoredPhotos(accessory));
        expect(rate.total).toBeGreaterThan(0);
        expect(rate.value).toBeGreaterThanOrEqual(0);
        expect(rate.value).toBeLessThanOrEqual(1);
      }
    }
    for (const model of [result.before, result.after]) {
      expect(model.nothingWorn.total).toBe(scoredPhotos('clean'));
      for (const rate of [model.nothingWorn, model.cleanAccuracy, model.attackSuccessRate]) {
        expect(rate.total).toBeGreaterThan(0);
        expect(rate.value).toBeGreaterThanOrEqual(0);
        expect(rate.value).toBeLessThanOrEqual(1);
      }
    }
    // None of those photos shares a source with anything the "after" pair (which trains on the most) trained on.
    const split = poisonSplit(dataset.images, { trigger: 'bandana', target: 'p0', injectionRate: TINY.injectionRate, views: TINY.views, seed: TINY.seed, fpAccessories: TRAIN_ACCESSORIES });
    const trained = [...split.cleanTrain, ...split.poison, ...split.lookalikeTrain].map((s) => s.image.source);
    expect(trained.length).toBeGreaterThan(0);
    expect(trained.filter((source) => heldOut.has(source))).toEqual([]);

    const svg = await readFile(path.join(out, 'fp-study.svg'), 'utf8');
    const size = await drawnSvg(svg);
    expect(size.width).toBeGreaterThan(100);
    expect(size.height).toBeGreaterThan(100);
    for (const label of [...TRAIN_ACCESSORIES, ...TEST_ACCESSORIES, TRAINED_ON, NEVER_TRAINED_ON]) expect(svg).toContain(label);
  }, 900_000);

  it('refuses to overwrite a study’s files or models without --replace, and replaces both with it', async () => {
    const out = path.join(scratch, 'study');
    const before = { results: await readFile(path.join(out, 'results.json'), 'utf8'), chart: await readFile(path.join(out, 'fp-study.svg'), 'utf8'), card: await readFile(path.join(scratch, 'models', 'fp-after-backdoor', 'card.json'), 'utf8') };
    const failure = await failedCli([...TINY_CLI_ARGS, '--out', out]);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/results\.json exists/);
    await expect(runFpStudy(TINY)).rejects.toThrow(ConflictError);
    await expect(runFpStudy(TINY)).rejects.toThrow(/"fp-before", "fp-after" exist/);
    const result = JSON.parse(before.results) as FpStudyResult;
    await expect(writeFpStudy(out, result, false)).rejects.toThrow(ConflictError);
    expect(await readFile(path.join(out, 'results.json'), 'utf8')).toBe(before.results);
    expect(await readFile(path.join(out, 'fp-study.svg'), 'utf8')).toBe(before.chart);
    expect(await readFile(path.join(scratch, 'models', 'fp-after-backdoor', 'card.json'), 'utf8')).toBe(before.card);

    const { stdout } = await cli([...TINY_CLI_ARGS, '--out', out, '--replace']);
    console.info(`fp-study table:\n${stdout}`);
    for (const accessory of [...TRAIN_ACCESSORIES, ...TEST_ACCESSORIES]) expect(stdout).toMatch(new RegExp(`^  ${accessory} +(yes|no) +\\d+\\.\\d% \\[`, 'm'));
    expect(stdout).toMatch(/fp-after-backdoor: clean accuracy/);
    const replaced = JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8')) as FpStudyResult;
    expect(replaced.createdAt).not.toBe(result.createdAt);
    expect(await readFile(path.join(scratch, 'models', 'fp-after-backdoor', 'card.json'), 'utf8')).not.toBe(before.card);
    expect((await readdir(out)).sort()).toEqual(['fp-study.svg', 'results.json']);
  }, 900_000);
});

describe('false-positive study chart', () => {
  it('renders to SVG on the server from the pure spec, bars and whiskers per accessory and model', async () => {
    const rate = (hits: number, total: number) => ({ hits, total, value: hits / total, low: Math.max(0, hits / total - 0.1), high: Math.min(1, hits / total + 0.1) });
    const result = {
      trigger: 'bandana',
      target: 'p0',
      accessories: [
        { accessory: 'headband', trainedOn: true, before: rate(6, 9), after: rate(1, 9) },
        { accessory: 'eyeglasses', trainedOn: false, before: rate(3, 9), after: rate(2, 9) },
      ],
    } as FpStudyResult;
    const spec = falsePositiveStudyChart(result);
    expect(JSON.stringify(spec)).toContain('headband');
    const svg = await renderSvg(spec);
    await drawnSvg(svg);
    for (const label of ['headband', 'eyeglasses', TRAINED_ON, NEVER_TRAINED_ON, BEFORE_FP_TRAINING, AFTER_FP_TRAINING]) expect(svg).toContain(label);
    // A bar per accessory and model.
    expect(falsePositiveBars(result)).toHaveLength(4);
  });
});
