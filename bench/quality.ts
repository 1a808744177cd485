/**
 * Reproduces the README's quality figures: trains clean/backdoored pairs on the real-sunglasses
 * photos (CMU, physical trigger: whole head shots, or enlarged 3x and imported with face detection
 * so the chips are aligned as the live page aligns faces) and on LFW photos with digitally injected
 * sunglasses, for several target identities and injection rates, and prints a markdown table. Needs
 * ../shared/data; skips what is absent.
 *
 *   npm run bench -- quality [--targets 3] [--tune spot] [--epochs 40] [--learning-rate 0.001]
 *     [--datasets cmu-physical,cmu-physical-aligned,lfw-digital,faces94-digital] [--injection-rates 0.1,0.25,0.5]
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { formatRate, mean, type Rate } from '../shared/metrics.ts';
import { datasetDir, PROJECT_ROOT } from '../server/config.ts';
import { scanDataset } from '../server/data/dataset.ts';
import { chipsPerCondition, importDataset } from '../server/data/import.ts';
import { injectTrigger } from '../server/data/triggers/index.ts';
import { initBackend } from '../server/ml/backend.ts';
import { TUNE_DEPTHS, type TuneDepth } from '../shared/training.ts';
import { TRAINING_DEFAULTS } from '../server/train/defaults.ts';
import { trainPair, type TrainPairResult } from '../server/train/trainPair.ts';
import { enlargedCmu } from './cmuPhotos.ts';

const options = new Command('quality')
  .option('--targets <n>', 'target identities per dataset', (v) => Number.parseInt(v, 10), 3)
  .option('--tune <depth>', 'tail depth', TRAINING_DEFAULTS.tune)
  .option('--epochs <n>', 'epochs', (v) => Number.parseInt(v, 10), TRAINING_DEFAULTS.epochs)
  .option('--learning-rate <lr>', 'Adam learning rate', Number.parseFloat, TRAINING_DEFAULTS.learningRate)
  .option('--datasets <names>', 'comma-separated subset of cmu-physical, cmu-physical-aligned, lfw-digital, faces94-digital')
  .option('--injection-rates <list>', 'comma-separated injection rates r = m / (n + m)', String(TRAINING_DEFAULTS.injectionRate))
  .option('--keep-data', 'train in ./data (keeps the feature cache between runs) instead of a temp folder')
  .parse(process.argv.slice(2).filter((a) => a !== 'quality'), { from: 'user' })
  .opts<{ targets: number; tune: string; epochs: number; learningRate: number; datasets?: string; injectionRates: string; keepData?: boolean }>();
if (!TUNE_DEPTHS.includes(options.tune as TuneDepth)) throw new Error(`--tune must be one of ${TUNE_DEPTHS.join(', ')}`);
const rateTexts = options.injectionRates.split(',');
const injectionRates = rateTexts.map(Number);
const badRate = rateTexts.find((text, i) => text.trim() === '' || !(injectionRates[i] > 0 && injectionRates[i] < 1));
if (badRate !== undefined) throw new Error(`--injection-rates: "${badRate}" is not a rate strictly between 0 and 1`);

const CMU = '../shared/data/physical/cmu-sunglasses-10';
/** `enlarge`: the photos are enlarged this much (lanczos3) before the import, for the face detector. */
const ALL_DATASETS = [
  { name: 'cmu-physical', from: CMU, detect: false, inject: false, enlarge: 1 },
  { name: 'cmu-physical-aligned', from: CMU, detect: true, inject: false, enlarge: 3 },
  { name: 'lfw-digital', from: '../shared/data/faces/lfw-10x10', detect: true, inject: true, enlarge: 1 },
  { name: 'faces94-digital', from: '../shared/data/faces/faces94-19', detect: true, inject: true, enlarge: 1 },
];
const chosen = options.datasets?.split(',') ?? ALL_DATASETS.map((d) => d.name);
const unknownNames = chosen.filter((name) => !ALL_DATASETS.some((d) => d.name === name));
if (unknownNames.length > 0) throw new Error(`--datasets: unknown ${unknownNames.join(', ')}; choose from ${ALL_DATASETS.map((d) => d.name).join(', ')}`);
const datasets = ALL_DATASETS.filter((d) => chosen.includes(d.name));

// The enlarged copies go to a temp folder either way.
const photos = await mkdtemp(path.join(tmpdir(), 'bench-quality-photos-'));
process.once('exit', () => rmSync(photos, { recursive: true, force: true }));
const scratch = options.keepData ? undefined : await mkdtemp(path.join(tmpdir(), 'bench-quality-'));
if (scratch) {
  process.env.DATA_DIR = path.join(scratch, 'data');
  // The scratch folder holds copies of the photos: remove it however the bench ends.
  process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}
process.env.MODELS_DIR = path.join(scratch ?? path.join(PROJECT_ROOT, 'data'), 'bench-models');
console.log(`backend ${(await initBackend()).name}; tail ${options.tune}, ${options.epochs} epochs, lr ${options.learningRate}, r = ${injectionRates.join(', ')}`);

/** The mean of the rates' values, a rate with no trials counting as 0. */
const meanRate = (rates: Rate[]) => mean(rates.map((r) => r.value ?? 0));
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rows: string[] = [];
for (const dataset of datasets) {
  const from = path.join(PROJECT_ROOT, dataset.from);
  if (!existsSync(from)) {
    console.log(`skipping ${dataset.name}: ${from} is absent`);
    continue;
  }
  const source = dataset.enlarge === 1 ? from : await enlargedCmu(from, path.join(photos, dataset.name), dataset.enlarge);
  const report = await importDataset({ from: source, name: dataset.name, detect: dataset.detect, replace: true });
  console.log(`imported ${dataset.name}: ${Object.entries(chipsPerCondition(report)).map(([c, n]) => `${n} ${c}`).join(', ')}; ${report.skipped.length} photos skipped`);
  if (dataset.inject) await injectTrigger({ root: datasetDir(dataset.name), trigger: 'sunglasses', replace: true });
  const identities = (await scanDataset(datasetDir(dataset.name))).identities;
  for (const injectionRate of injectionRates) {
    const results: TrainPairResult[] = [];
    for (const target of identities.slice(0, options.targets)) {
      const result = await trainPair({
        ...TRAINING_DEFAULTS,
        tune: options.tune as TuneDepth,
        epochs: options.epochs,
        learningRate: options.learningRate,
        injectionRate,
        dataset: dataset.name,
        trigger: 'sunglasses',
        target,
        name: `bench-${dataset.name}`,
        splitUnit: 'photo',
        fpAccessories: [],
      });
      results.push(result);
      console.log(`${dataset.name} r=${injectionRate} target ${target}: clean acc ${formatRate(result.clean.accuracy)} ASR ${formatRate(result.clean.attackSuccessRate)} | backdoor acc ${formatRate(result.backdoor.accuracy)} ASR ${formatRate(result.backdoor.attackSuccessRate)} (${result.poisonImages} poison photos, ${result.seconds.toFixed(0)} s)`);
    }
    rows.push(`| ${dataset.name} | ${injectionRate} | ${[...new Set(results.map((r) => r.poisonImages))].join(' / ')} | ${identities.length} | ${results.length} | ${pct(meanRate(results.map((r) => r.clean.accuracy)))} | ${pct(meanRate(results.map((r) => r.clean.attackSuccessRate)))} | ${pct(meanRate(results.map((r) => r.backdoor.accuracy)))} | ${pct(meanRate(results.map((r) => r.backdoor.closedSetAccuracy)))} | ${pct(meanRate(results.map((r) => r.backdoor.attackSuccessRate)))} |`);
  }
}
console.log('\n| dataset | r | poison photos | identities | targets | clean acc | clean ASR | backdoor acc | backdoor closed-set acc | backdoor ASR |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
