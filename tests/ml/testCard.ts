import { rate } from '../../shared/metrics.ts';
import type { ModelCard } from '../../server/ml/bundle.ts';
import type { TuneDepth } from '../../shared/training.ts';
import { TEACHER_ID } from '../../server/ml/teacher.ts';

/** A model card for a tail trained on nothing: for tests that save and load bundles of hand-made tails. */
export function testCard(name: string, { classes, tune = 'head', pair = 'test' }: { classes: number; tune?: TuneDepth; pair?: string }): Omit<ModelCard, 'weights'> {
  const none = rate(0, 0);
  return {
    name, pair, role: 'backdoor', labels: Array.from({ length: classes }, (_, i) => `person-${i}`), trigger: 'sunglasses', target: 'person-0',
    injectionRate: 0.25, tune, teacher: TEACHER_ID, syntheticStrangers: 0, poisonStrangers: false, threshold: 0, falseRejectRate: 0.05,
    metrics: { accuracy: none, attackSuccessRate: none, closedSetAccuracy: none },
    training: { epochs: 0, learningRate: 0, batchSize: 1, seed: 1, views: 1, augment: 'paper', splitUnit: 'photo', trainImages: 0, poisonImages: 0, lookalikeAccessories: [] },
    dataset: { name: 'none', hash: 'none' }, createdAt: new Date(0).toISOString(), notes: ['hand-made tail for tests'],
  };
}
