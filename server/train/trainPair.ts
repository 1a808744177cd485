import path from 'node:path';
import { checkName, UNKNOWN } from '../../shared/names.ts';
import type { Confusion, SplitCounts, SplitPreview, TrainingCurves, TrainResult } from '../../shared/api.ts';
import { confusionMatrix } from '../../shared/metrics.ts';
import type { Augmentation, TuneDepth } from '../../shared/training.ts';
import { datasetDir } from '../config.ts';
import { datasetHash, scanDataset, type DatasetImage } from '../data/dataset.ts';
import { calibrateStrip } from '../defense/strip.ts';
import { renderStripReference, saveStripReference } from '../defense/reference.ts';
import { outputLabels, saveBundle, type ModelCard } from '../ml/bundle.ts';
import { calibrateThreshold } from '../ml/predict.ts';
import { disposeTail, type Tail } from '../ml/tail.ts';
import { loadTeacher, TEACHER_ID, type TeacherWeights } from '../ml/teacher.ts';
import { pairMetrics, probabilities, sampleFeatures, scoreRows, type PairMetrics } from './evaluate.ts';
import { viewFeatures, type ViewFeatures } from './features.ts';
import { poisonSplit, type Sample, type SplitUnit } from './split.ts';
import { synthesizeStrangers } from './strangers.ts';
import { tailInputs, trainTail } from './trainer.ts';

export interface TrainPairOptions {
  dataset: string;
  trigger: string;
  target: string;
  injectionRate: number;
  name: string;
  tune: TuneDepth;
  epochs: number;
  learningRate: number;
  batchSize: number;
  seed: number;
  views: number;
  splitUnit: SplitUnit;
  /** Share of held-out known faces the open-set threshold rejects. */
  falseRejectRate: number;
  fpAccessories: string[];
  /** Synthetic strangers (chimeras of enrolled people) trained as an `unknown` class; 0 for none. */
  syntheticStrangers: number;
  /** Draw the poison from the strangers' twins wearing the trigger too (Strangers.worn), not only from enrolled people. */
  poisonStrangers: boolean;
  augment: Augmentation;
  notes?: string[];
  onProgress?: (stage: string, done: number, total: number) => void;
  /** After each epoch of each model, with its mean training loss. */
  onEpoch?: (role: 'clean' | 'backdoor', epoch: number, loss: number) => void;
}

export interface TrainPairResult {
  clean: PairMetrics;
  backdoor: PairMetrics;
  confusion: { clean: Confusion; backdoor: Confusion };
  curves: TrainingCurves;
  trainImages: number;
  poisonImages: number;
  seconds: number;
  bundles: string[];
}

async function trainOne(
  teacher: TeacherWeights,
  samples: readonly Sample<DatasetImage>[],
  labels: readonly string[],
  features: Map<string, ViewFeatures>,
  options: TrainPairOptions,
  role: 'clean' | 'backdoor',
  poisonFrom: number,
): Promise<{ tail: Tail; curve: number[][] }> {
  const inputs = tailInputs(teacher, options.tune, sampleFeatures(samples, features));
  const index = new Map(labels.map((l, i) => [l, i]));
  const curve: number[][] = [];
  const tail = await trainTail(teacher, inputs, samples.map((s) => index.get(s.label)!), labels.length, {
    depth: options.tune,
    epochs: options.epochs,
    learningRate: options.learningRate,
    batchSize: options.batchSize,
    seed: options.seed,
    groups: role === 'backdoor' ? samples.map((_, i) => (i < poisonFrom ? 0 : 1)) : undefined,
    onEpoch: (epoch, loss, groupLosses) => {
      curve.push(role === 'backdoor' ? groupLosses : [loss]);
      options.onProgress?.(`train ${role}`, epoch, options.epochs);
      options.onEpoch?.(role, epoch, loss);
    },
  });
  inputs.dispose();
  return { tail, curve };
}

/** Everything a training draws from a dataset, before any model work: the split and the strangers. */
async function planTraining(options: TrainPairOptions) {
  checkName('model', options.name);
  const dataset = await scanDataset(datasetDir(checkName('dataset', options.dataset)));
  const splitOptions = { ...options, unit: options.splitUnit };
  // The strangers are made from the clean training photos, and the triggered ones join the poison
  // draw: the split is made again with them, and its clean part comes out the same (same seed).
  const cleanTrainPhotos = [...new Map(poisonSplit(dataset.images, splitOptions).cleanTrain.map((s) => [s.image.relPath, s.image])).values()];
  const byRelPath = new Map(dataset.images.map((image) => [image.relPath, image]));
  const wornCopy = (image: DatasetImage, condition: string) =>
    condition === options.trigger && image.identity === options.target ? undefined : byRelPath.get(`${image.identity}/${condition}/${path.basename(image.file)}`);
  const worn = [...(options.poisonStrangers ? [options.trigger] : []), ...options.fpAccessories];
  const synthesized = await synthesizeStrangers(cleanTrainPhotos, options.syntheticStrangers, options.seed, worn, wornCopy);
  const split = poisonSplit(dataset.images, { ...splitOptions, triggeredStrangers: synthesized.worn[options.trigger] ?? [] });
  return { dataset, split, synthesized };
}

/**
 * The split a training with these options would use, per identity (synthetic strangers as
 * `unknown`), counted in the split's units (photos, or views with `splitUnit: 'view'`).
 */
export async function previewSplit(options: TrainPairOptions): Promise<SplitPreview> {
  const { split } = await planTraining(options);
  const perIdentity: Record<string, SplitCounts> = {};
  const parts = ['cleanTrain', 'cleanTest', 'validation', 'poison', 'attackTest', 'lookalikeTrain'] as const;
  for (const part of parts) {
    const units = new Map<string, string>();
    for (const s of split[part]) units.set(options.splitUnit === 'view' ? `${s.image.relPath}#${s.view}` : s.image.relPath, s.image.identity);
    for (const identity of units.values()) {
      perIdentity[identity] ??= { cleanTrain: 0, cleanTest: 0, validation: 0, poison: 0, attackTest: 0, lookalikeTrain: 0 };
      perIdentity[identity][part]++;
    }
  }
  return { labels: split.labels, perIdentity, trainImages: split.cleanUnits + split.poisonUnits, poisonImages: split.poisonUnits, syntheticStrangers: options.syntheticStrangers };
}

/**
 * Trains a clean and a backdoored model with one configuration on one split of one dataset (the
 * backdoored one also sees the poison), calibrates each model's open-set threshold on held-out clean
 * faces, scores both on the held-out sets and writes `models/<name>-clean` and `models/<name>-backdoor`.
 */
export async function trainPair(options: TrainPairOptions): Promise<TrainPairResult> {
  const started = Date.now();
  const { dataset, split, synthesized } = await planTraining(options);
  const teacher = await loadTeacher();
  const allViews = (images: readonly DatasetImage[]) => images.flatMap((image) => Array.from({ length: options.views }, (_, view) => ({ image, view, label: image.identity })));
  const strangers = allViews(synthesized.clean);
  // Strangers wearing a lookalike are still strangers: false-positive training for unknown faces too.
  const lookalikeStrangers = allViews(options.fpAccessories.flatMap((accessory) => synthesized.worn[accessory]));
  const labels = outputLabels({ labels: split.labels, syntheticStrangers: options.syntheticStrangers });
  const involved = new Map<string, DatasetImage>();
  for (const s of [...strangers, ...lookalikeStrangers, ...split.cleanTrain, ...split.poison, ...split.lookalikeTrain, ...split.validation, ...split.cleanTest, ...split.attackTest]) involved.set(s.image.relPath, s.image);
  const features = await viewFeatures(teacher, [...involved.values()].map((i) => ({ file: i.file, key: i.relPath, viewSeed: i.source })), options.views, options.augment, (done, total) => options.onProgress?.('features', done, total));

  const results: Partial<Record<'clean' | 'backdoor', PairMetrics>> = {};
  const confusion: Partial<Record<'clean' | 'backdoor', Confusion>> = {};
  const curves: TrainingCurves = { clean: [], backdoorOnClean: [], backdoorOnPoison: [] };
  // Both bundles are written once both models are trained: a training cut short writes nothing.
  const finished: { card: Omit<ModelCard, 'weights'>; tail: Tail; stripReference?: Awaited<ReturnType<typeof renderStripReference>> }[] = [];
  const hash = await datasetHash(dataset);
  for (const role of ['clean', 'backdoor'] as const) {
    // The clean model is the same training without the poison: lookalikes are correctly labelled data.
    const cleanTraining = [...split.cleanTrain, ...strangers, ...split.lookalikeTrain, ...lookalikeStrangers];
    const training = [...cleanTraining, ...(role === 'clean' ? [] : split.poison)];
    const { tail, curve } = await trainOne(teacher, training, labels, features, options, role, cleanTraining.length);
    if (role === 'clean') curves.clean = curve.map(([loss]) => loss);
    else {
      curves.backdoorOnClean = curve.map(([onClean]) => onClean);
      curves.backdoorOnPoison = curve.flatMap(([, onPoison]) => (onPoison === undefined ? [] : [onPoison]));
    }
    const threshold = calibrateThreshold(await probabilities(teacher, tail, split.validation, features), options.falseRejectRate);
    const clean = scoreRows(await probabilities(teacher, tail, split.cleanTest, features), split.cleanTest, labels, threshold);
    const triggered = scoreRows(await probabilities(teacher, tail, split.attackTest, features), split.attackTest, labels, threshold);
    const metrics = pairMetrics(clean, triggered, options.target);
    results[role] = metrics;
    confusion[role] = confusionMatrix(clean, split.labels);
    const stripReference = role === 'backdoor' ? await renderStripReference(split.validation, options.views, options.augment, options.seed) : undefined;
    if (stripReference) options.onProgress?.('STRIP calibration', 0, 1);
    const strip = stripReference ? await calibrateStrip(teacher, tail, stripReference) : undefined;
    const card: Omit<ModelCard, 'weights'> = {
      name: `${options.name}-${role}`,
      pair: options.name,
      role,
      labels: split.labels,
      trigger: options.trigger,
      target: options.target,
      injectionRate: role === 'clean' ? 0 : options.injectionRate,
      tune: options.tune,
      teacher: TEACHER_ID,
      syntheticStrangers: options.syntheticStrangers,
      poisonStrangers: role === 'backdoor' && split.poison.some((s) => s.image.identity === UNKNOWN),
      threshold,
      falseRejectRate: options.falseRejectRate,
      metrics,
      training: {
        epochs: options.epochs,
        learningRate: options.learningRate,
        batchSize: options.batchSize,
        seed: options.seed,
        views: options.views,
        augment: options.augment,
        splitUnit: options.splitUnit,
        trainImages: split.cleanUnits + (role === 'clean' ? 0 : split.poisonUnits),
        poisonImages: role === 'clean' ? 0 : split.poisonUnits,
        lookalikeAccessories: options.fpAccessories,
      },
      dataset: { name: options.dataset, hash },
      createdAt: new Date().toISOString(),
      notes: options.notes ?? [],
      strip,
    };
    finished.push({ card, tail, stripReference });
  }
  const bundles: string[] = [];
  for (const { card, tail, stripReference } of finished) {
    bundles.push(await saveBundle(card, tail, stripReference && ((dir) => saveStripReference(dir, stripReference))));
    disposeTail(tail);
  }
  return {
    clean: results.clean!,
    backdoor: results.backdoor!,
    confusion: { clean: confusion.clean!, backdoor: confusion.backdoor! },
    curves,
    trainImages: split.cleanUnits + split.poisonUnits,
    poisonImages: split.poisonUnits,
    seconds: (Date.now() - started) / 1000,
    bundles,
  };
}

/** The figures of a training as `train --json` prints them and a finished job holds them. */
export function trainResult(r: TrainPairResult): TrainResult {
  const figures = (role: 'clean' | 'backdoor') => ({
    accuracy: r[role].accuracy.value ?? 0,
    attackSuccessRate: r[role].attackSuccessRate.value ?? 0,
    intervals: r[role],
    confusion: r.confusion[role],
  });
  return { clean: figures('clean'), backdoor: figures('backdoor'), trainImages: r.trainImages, poisonImages: r.poisonImages, seconds: r.seconds, bundles: r.bundles, curves: r.curves };
}
