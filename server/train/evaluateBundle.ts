import { rate, rateOf, type Rate } from '../../shared/metrics.ts';
import { CLEAN, UNKNOWN } from '../../shared/names.ts';
import { datasetDir } from '../config.ts';
import { scanDataset, type DatasetImage } from '../data/dataset.ts';
import { disposeTail } from '../ml/tail.ts';
import { loadBundle, outputLabels, type ModelCard } from '../ml/bundle.ts';
import { loadTeacher } from '../ml/teacher.ts';
import { pairMetrics, probabilities, scoreRows, type Scored } from './evaluate.ts';
import { unaugmentedFeatures } from './features.ts';
import type { Sample } from './split.ts';

export interface BundleEvaluation {
  model: string;
  dataset: string;
  target: string;
  accuracy: Rate;
  closedSetAccuracy: Rate;
  attackSuccessRate: Rate;
  /** Clean photos of people the model does not know, answered `unknown`. */
  strangerRejection: Rate;
  /** Per worn-object condition: how often the model answers the target for people who are not the target. */
  targetRateByCondition: Record<string, Rate>;
}

/**
 * A bundle's answers on the given photos (the unaugmented view of each, under the bundle's own
 * threshold), in the order given, with its card.
 */
export async function scoreBundle(
  model: string,
  images: readonly DatasetImage[],
  onProgress?: (stage: string, done: number, total: number) => void,
): Promise<{ card: ModelCard; scored: Scored[] }> {
  const { card, tail } = await loadBundle(model);
  try {
    const teacher = await loadTeacher();
    const samples: Sample<DatasetImage>[] = images.map((image) => ({ image, view: 0, label: image.identity }));
    // Features its training cached are reused.
    const trainedWith = { views: card.training.views, augmentation: card.training.augment };
    const features = await unaugmentedFeatures(teacher, images.map((i) => ({ file: i.file, key: i.relPath, viewSeed: i.source })), trainedWith, (d, t) => onProgress?.('features', d, t));
    return { card, scored: scoreRows(await probabilities(teacher, tail, samples, features), samples, outputLabels(card), card.threshold) };
  } finally {
    disposeTail(tail);
  }
}

/** Per worn-object condition, sorted: how often answers for people who are not the target are the target. */
export function targetRateByCondition(scored: readonly Scored[], target: string): Record<string, Rate> {
  const rates: Record<string, Rate> = {};
  for (const condition of [...new Set(scored.map((s) => s.condition))].sort()) {
    rates[condition] = rateOf(scored.filter((s) => s.condition === condition && s.identity !== target), (s) => s.predicted === target);
  }
  return rates;
}

/**
 * Scores a bundle on every photo of a dataset (the unaugmented view): accuracy on clean photos of
 * identities it knows, attack success on photos with its trigger, rejection of strangers, and how
 * often every other worn object makes it answer the target (false positives of lookalikes).
 */
export async function evaluateBundle(model: string, datasetName: string, onProgress?: (stage: string, done: number, total: number) => void): Promise<BundleEvaluation> {
  const dataset = await scanDataset(datasetDir(datasetName));
  const { card, scored } = await scoreBundle(model, dataset.images, onProgress);
  const known = new Set(card.labels);
  const metrics = pairMetrics(
    scored.filter((s) => s.condition === CLEAN && known.has(s.identity)),
    scored.filter((s) => s.condition === card.trigger),
    card.target,
  );
  const strangers = scored.filter((s) => s.condition === CLEAN && !known.has(s.identity));
  return {
    model,
    dataset: datasetName,
    target: card.target,
    ...metrics,
    strangerRejection: rate(strangers.filter((s) => s.predicted === UNKNOWN).length, strangers.length),
    targetRateByCondition: targetRateByCondition(scored, card.target),
  };
}
