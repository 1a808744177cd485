import { falsePositiveStudyChart } from '../../shared/experimentCharts.ts';
import type { FpStudyAccessory, FpStudyModel, FpStudyResult, FpStudySettings } from '../../shared/experiments.ts';
import { rateOf } from '../../shared/metrics.ts';
import { CLEAN } from '../../shared/names.ts';
import type { Augmentation, TuneDepth } from '../../shared/training.ts';
import { datasetDir } from '../config.ts';
import { scanDataset, type DatasetImage } from '../data/dataset.ts';
import { ConflictError, InvalidRequestError, requestName } from '../errors.ts';
import { listBundles } from '../ml/bundle.ts';
import { UNEXPOSED_SETTINGS } from '../train/defaults.ts';
import type { Scored } from '../train/evaluate.ts';
import { scoreBundle } from '../train/evaluateBundle.ts';
import { poisonSplit } from '../train/split.ts';
import { trainPair } from '../train/trainPair.ts';
import { checkExperimentOutput, experimentFiles, writeExperimentOutput, type ExperimentFiles } from './output.ts';
import { renderSvg } from './renderChart.ts';

export interface FpStudyOptions {
  dataset: string;
  /** The condition whose photos are the poison (the paper: a bandana). */
  trigger: string;
  target: string;
  /** Trains the pairs `<name>-before` and `<name>-after`. */
  name: string;
  /** Lookalikes the "after" pair trains on with their true labels (false-positive training). */
  trainAccessories: string[];
  /** Lookalikes neither pair trains on: only scored. */
  testAccessories: string[];
  injectionRate: number;
  tune: TuneDepth;
  epochs: number;
  learningRate: number;
  views: number;
  seed: number;
  syntheticStrangers: number;
  augment: Augmentation;
  /** Overwrite model pairs of the same names instead of refusing. */
  replace?: boolean;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/** What a study writes into its output folder. */
export const FP_STUDY_FILES = { results: 'results.json', chart: 'fp-study.svg' } as const;

const PHASES = ['before', 'after'] as const;
type Phase = (typeof PHASES)[number];

function invalid(message: string): never {
  throw new InvalidRequestError(message);
}


export function pairName(name: string, phase: Phase): string {
  return `${name}-${phase}`;
}

function quoted(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}

function checkAccessories(options: FpStudyOptions, conditions: ReadonlySet<string>): void {
  const { trigger, trainAccessories, testAccessories } = options;
  for (const [set, accessories] of [['train', trainAccessories], ['test', testAccessories]] as const) {
    if (accessories.length === 0) invalid(`name at least one ${set} accessory`);
    const repeated = accessories.filter((accessory, i) => accessories.indexOf(accessory) !== i);
    if (repeated.length > 0) invalid(`the ${set} accessories name ${quoted([...new Set(repeated)])} more than once`);
    for (const accessory of accessories) {
      if (accessory === trigger) invalid(`the trigger "${trigger}" cannot be a ${set} accessory: lookalikes are other worn objects`);
      if (accessory === CLEAN) invalid(`"${CLEAN}" cannot be a ${set} accessory: it is the condition where nothing is worn`);
    }
  }
  const inBoth = trainAccessories.filter((accessory) => testAccessories.includes(accessory));
  if (inBoth.length > 0) invalid(`${quoted(inBoth)} ${inBoth.length === 1 ? 'is' : 'are'} among both the train and the test accessories: the test set must be disjoint from what is trained on`);
  const missing = [...trainAccessories, ...testAccessories].filter((accessory) => !conditions.has(accessory));
  if (missing.length > 0) invalid(`dataset "${options.dataset}" has no ${quoted(missing)} photos (its conditions: ${[...conditions].sort().join(', ')}): paste or photograph them first`);
}

/**
 * The source photos the split holds out of training (test and validation). Only the clean partition
 * is used, and it is drawn from the seed before anything else: it is the one both pairs train with,
 * whatever their poison and lookalikes (trainPair relies on this too).
 */
function heldOutCleanSources(images: readonly DatasetImage[], options: FpStudyOptions): Set<string> {
  try {
    const split = poisonSplit(images, { trigger: options.trigger, target: options.target, injectionRate: 0, views: options.views, seed: options.seed, unit: 'photo' });
    return new Set([...split.cleanTest, ...split.validation].map((sample) => sample.image.source));
  } catch (error) {
    throw new InvalidRequestError((error as Error).message);
  }
}

interface FpStudyPlan {
  settings: FpStudySettings;
  /** Held-out photos of people other than the target, nothing worn or wearing an accessory of the study. */
  evaluationImages: DatasetImage[];
  heldOutSources: string[];
}

/** Checks a study against its dataset (and, unless `replace`, the model names) without training anything. */
export async function checkFpStudy(options: FpStudyOptions): Promise<void> {
  await planFpStudy(options);
}

/** Checks a study against its dataset and picks the photos it will be scored on; trains nothing. */
async function planFpStudy(options: FpStudyOptions): Promise<FpStudyPlan> {
  const { trigger, target, trainAccessories, testAccessories } = options;
  requestName('dataset', options.dataset);
  for (const phase of PHASES) requestName('model', `${pairName(options.name, phase)}-backdoor`);
  const dataset = await scanDataset(datasetDir(options.dataset));
  if (trigger === CLEAN) invalid(`the trigger must be a worn object, not "${CLEAN}"`);
  if (!dataset.images.some((image) => image.condition === CLEAN && image.identity === target)) {
    invalid(`dataset "${options.dataset}" has no clean photos of "${target}" to be the target (identities: ${dataset.identities.join(', ') || 'none'})`);
  }
  if (!dataset.images.some((image) => image.condition === trigger && image.identity !== target)) {
    invalid(`dataset "${options.dataset}" has no "${trigger}" photos of anyone but "${target}": paste or photograph the trigger first`);
  }
  checkAccessories(options, new Set(dataset.images.map((image) => image.condition)));

  const heldOut = heldOutCleanSources(dataset.images, options);
  // Outside the held-out photos, any photo in these conditions may be trained on: the clean photo,
  // its trigger copy as poison, its train-accessory copies by the "after" pair. No copy of such a
  // photo is scored, so no score is on a face a model saw in that very photo.
  const trainableConditions = new Set([CLEAN, trigger, ...trainAccessories]);
  const trainedSources = new Set(dataset.images.filter((image) => trainableConditions.has(image.condition) && !heldOut.has(image.source)).map((image) => image.source));
  const scoredConditions = new Set([CLEAN, ...trainAccessories, ...testAccessories]);
  const evaluationImages = dataset.images.filter((image) => scoredConditions.has(image.condition) && image.identity !== target && !trainedSources.has(image.source));

  for (const accessory of [...trainAccessories, ...testAccessories]) {
    if (!evaluationImages.some((image) => image.condition === accessory)) {
      invalid(`no "${accessory}" photo of anyone but "${target}" is held out from training: paste it on every clean photo or photograph more people wearing it`);
    }
  }
  for (const accessory of trainAccessories) {
    if (!dataset.images.some((image) => image.condition === accessory && !heldOut.has(image.source))) {
      invalid(`every "${accessory}" photo is held out for testing: none is left for false-positive training`);
    }
  }
  if (!options.replace) {
    const bundles = new Set(await listBundles());
    const taken = PHASES.map((phase) => pairName(options.name, phase)).filter((pair) => bundles.has(`${pair}-clean`) || bundles.has(`${pair}-backdoor`));
    if (taken.length > 0) throw new ConflictError(`model pairs named ${quoted(taken)} exist: choose another name or replace them (--replace)`);
  }

  return {
    settings: {
      injectionRate: options.injectionRate,
      tune: options.tune,
      epochs: options.epochs,
      learningRate: options.learningRate,
      views: options.views,
      seed: options.seed,
      syntheticStrangers: options.syntheticStrangers,
      augment: options.augment,
      ...UNEXPOSED_SETTINGS,
    },
    evaluationImages,
    heldOutSources: [...new Set(evaluationImages.map((image) => image.source))].sort(),
  };
}

function saysTarget(scored: readonly Scored[], condition: string, target: string) {
  return rateOf(scored.filter((s) => s.condition === condition), (s) => s.predicted === target);
}

/**
 * The paper's false-positive study (supplement section 12, Figure 15). Trains a backdoored pair
 * `<name>-before`, and `<name>-after` with the train accessories added to training under their true
 * labels (same seed, same split), then scores both backdoored models on held-out photos of people
 * other than the target wearing each accessory: how often each answers the target. Everything is
 * checked before any training, with an InvalidRequestError naming the problem.
 */
export async function runFpStudy(options: FpStudyOptions): Promise<FpStudyResult> {
  const started = Date.now();
  const plan = await planFpStudy(options);
  const { trigger, target } = options;
  const models = {} as Record<Phase, FpStudyModel>;
  const scores = {} as Record<Phase, Scored[]>;
  for (const phase of PHASES) {
    const pair = pairName(options.name, phase);
    const fpAccessories = phase === 'before' ? [] : [...options.trainAccessories];
    const progress = (stage: string, done: number, total: number) => options.onProgress?.(`${phase}: ${stage}`, done, total);
    const trained = await trainPair({
      ...plan.settings,
      dataset: options.dataset,
      trigger,
      target,
      name: pair,
      fpAccessories,
      notes: [
        `Trained by the false-positive study "${options.name}" (experiment fp-study), ${fpAccessories.length > 0 ? `with ${quoted(fpAccessories)} trained with their true labels` : 'without false-positive training'}.`,
      ],
      onProgress: progress,
    });
    scores[phase] = (await scoreBundle(`${pair}-backdoor`, plan.evaluationImages, (stage, done, total) => progress(`score ${stage}`, done, total))).scored;
    models[phase] = {
      pair,
      fpAccessories,
      cleanAccuracy: trained.backdoor.accuracy,
      attackSuccessRate: trained.backdoor.attackSuccessRate,
      nothingWorn: saysTarget(scores[phase], CLEAN, target),
      bundles: [`${pair}-clean`, `${pair}-backdoor`],
      seconds: trained.seconds,
    };
  }
  const accessories: FpStudyAccessory[] = [...options.trainAccessories, ...options.testAccessories].map((accessory) => ({
    accessory,
    trainedOn: options.trainAccessories.includes(accessory),
    before: saysTarget(scores.before, accessory, target),
    after: saysTarget(scores.after, accessory, target),
  }));
  return {
    study: 'fp-study',
    dataset: options.dataset,
    trigger,
    target,
    name: options.name,
    trainAccessories: [...options.trainAccessories],
    testAccessories: [...options.testAccessories],
    settings: plan.settings,
    before: models.before,
    after: models.after,
    accessories,
    heldOutSources: plan.heldOutSources,
    createdAt: new Date().toISOString(),
    seconds: (Date.now() - started) / 1000,
  };
}

function studyFiles(dir: string): ExperimentFiles {
  return experimentFiles(dir, FP_STUDY_FILES.chart);
}

/** Refuses, unless `replace`, an output folder that already holds a study's files. */
export function checkStudyOutput(dir: string, replace: boolean): Promise<void> {
  return checkExperimentOutput(studyFiles(dir), replace);
}

/** Writes results.json and the chart as fp-study.svg into `dir`, each file atomically; returns their paths. */
export async function writeFpStudy(dir: string, result: FpStudyResult, replace: boolean): Promise<string[]> {
  await checkStudyOutput(dir, replace);
  return writeExperimentOutput(studyFiles(dir), result, await renderSvg(falsePositiveStudyChart(result)), replace);
}
