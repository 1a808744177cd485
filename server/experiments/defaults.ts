import type { Augmentation, TuneDepth } from '../../shared/training.ts';
import { TRAINING_DEFAULTS } from '../train/defaults.ts';

/**
 * What an experiment trains with unless told otherwise: the embedded bandana pair's setup
 * (DEMO_SETUP in server/train/demoPair.ts; tests/experiments/fpStudy.test.ts keeps the two equal)
 * where it has a value, TRAINING_DEFAULTS elsewhere. Not imported from demoPair.ts, which loads the
 * face detector: the CLI reads these defaults for every command.
 */
export const EXPERIMENT_DEFAULTS = {
  trigger: 'bandana',
  injectionRate: 0.4,
  tune: 'map' as TuneDepth,
  views: 10,
  syntheticStrangers: 24,
  augment: 'robust' as Augmentation,
  epochs: TRAINING_DEFAULTS.epochs,
  learningRate: TRAINING_DEFAULTS.learningRate,
  seed: TRAINING_DEFAULTS.seed,
};
