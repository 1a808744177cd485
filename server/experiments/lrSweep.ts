import type { LrSweepResult } from '../../shared/experiments.ts';
import type { Augmentation, TuneDepth } from '../../shared/training.ts';
import { learningRateSweepChart } from '../../shared/trainingCharts.ts';
import { ConflictError, InvalidRequestError, requestName } from '../errors.ts';
import { listBundles } from '../ml/bundle.ts';
import { UNEXPOSED_SETTINGS } from '../train/defaults.ts';
import { trainPair } from '../train/trainPair.ts';
import { experimentFiles, writeExperimentOutput, type ExperimentFiles } from './output.ts';
import { renderSvg } from './renderChart.ts';

export interface LrSweepOptions {
  dataset: string;
  trigger: string;
  target: string;
  /** Trains the pairs `<name>-lr<rate>`. */
  name: string;
  learningRates: number[];
  injectionRate: number;
  tune: TuneDepth;
  epochs: number;
  views: number;
  seed: number;
  syntheticStrangers: number;
  augment: Augmentation;
  replace: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export function lrSweepFiles(dir: string): ExperimentFiles {
  return experimentFiles(dir, 'lr-sweep.svg');
}

const pairName = (name: string, learningRate: number) => `${name}-lr${learningRate}`;

/**
 * The paper's Figure 2: one poisoning (same dataset, split and seed) trained at each learning rate,
 * with the training loss per epoch of the clean model and of the backdoored model on clean and on
 * poison images apart. Names and rates are checked before any training.
 */
export async function runLrSweep(options: LrSweepOptions): Promise<LrSweepResult> {
  const started = Date.now();
  const rates = options.learningRates;
  if (rates.length === 0) throw new InvalidRequestError('give at least one learning rate');
  if (new Set(rates).size !== rates.length) throw new InvalidRequestError(`learning rates listed twice: ${rates.join(', ')}`);
  for (const rate of rates) if (!(rate >= 1e-6 && rate <= 1)) throw new InvalidRequestError(`learning rate ${rate} is outside 0.000001 to 1`);
  for (const rate of rates) requestName('model', `${pairName(options.name, rate)}-backdoor`);
  if (!options.replace) {
    const bundles = new Set(await listBundles());
    const taken = rates.map((rate) => pairName(options.name, rate)).filter((pair) => bundles.has(`${pair}-clean`) || bundles.has(`${pair}-backdoor`));
    if (taken.length > 0) throw new ConflictError(`model pairs ${taken.join(', ')} exist: choose another name or replace them (--replace)`);
  }
  const runs = [];
  for (const learningRate of rates) {
    const pair = pairName(options.name, learningRate);
    const trained = await trainPair({
      dataset: options.dataset,
      trigger: options.trigger,
      target: options.target,
      injectionRate: options.injectionRate,
      tune: options.tune,
      epochs: options.epochs,
      views: options.views,
      seed: options.seed,
      syntheticStrangers: options.syntheticStrangers,
      augment: options.augment,
      name: pair,
      learningRate,
      ...UNEXPOSED_SETTINGS,
      fpAccessories: [],
      notes: [`Trained by the learning-rate sweep "${options.name}" (experiment lr-sweep).`],
      onProgress: (stage, done, total) => options.onProgress?.(`lr ${learningRate}: ${stage}`, done, total),
    });
    runs.push({
      learningRate,
      pair,
      curves: trained.curves,
      accuracy: trained.backdoor.accuracy,
      attackSuccessRate: trained.backdoor.attackSuccessRate,
      cleanModelAccuracy: trained.clean.accuracy,
      seconds: trained.seconds,
    });
  }
  return {
    study: 'lr-sweep',
    dataset: options.dataset,
    trigger: options.trigger,
    target: options.target,
    name: options.name,
    runs,
    createdAt: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
  };
}

/** Writes results.json and lr-sweep.svg into `dir`; returns their paths. */
export async function writeLrSweep(dir: string, result: LrSweepResult, replace: boolean): Promise<string[]> {
  return writeExperimentOutput(lrSweepFiles(dir), result, await renderSvg(learningRateSweepChart(result.runs)), replace);
}
