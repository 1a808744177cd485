import type { TrainingCurves } from './api.ts';
import type { Rate } from './metrics.ts';
import type { Augmentation, TuneDepth } from './training.ts';

/**
 * Figures of the experiments that reproduce studies of the paper on a dataset (`npm run cli --
 * experiment ...`). Shared so a page can show a study's results.json later.
 */

/** The training configuration both pairs of a false-positive study share. */
export interface FpStudySettings {
  injectionRate: number;
  tune: TuneDepth;
  epochs: number;
  learningRate: number;
  batchSize: number;
  views: number;
  seed: number;
  syntheticStrangers: number;
  poisonStrangers: boolean;
  augment: Augmentation;
  falseRejectRate: number;
  /** Photos are split (never views), so a held-out photo is unseen in every condition. */
  splitUnit: 'photo';
}

/** One of the two backdoored models of the study, with the figures its training measured. */
export interface FpStudyModel {
  /** `<name>-before` or `<name>-after`: its bundles are `<pair>-clean` and `<pair>-backdoor`. */
  pair: string;
  /** Accessories trained with their true labels (none before false-positive training). */
  fpAccessories: string[];
  /** The backdoored model's accuracy on held-out clean photos of enrolled people. */
  cleanAccuracy: Rate;
  /** The backdoored model's attack success on held-out trigger photos of people other than the target. */
  attackSuccessRate: Rate;
  /** Held-out clean photos of people other than the target that the backdoored model answers as the target. */
  nothingWorn: Rate;
  bundles: string[];
  seconds: number;
}

/** False positives of one lookalike accessory, on the same held-out photos for both models. */
export interface FpStudyAccessory {
  accessory: string;
  /** Whether the "after" model was trained on (other photos of) it with their true labels. */
  trainedOn: boolean;
  /** Held-out photos of people other than the target wearing it, answered as the target. */
  before: Rate;
  after: Rate;
}

/**
 * The paper's false-positive study (supplement section 12, Figure 15): a backdoored model before and
 * after false-positive training, scored on lookalike accessories it was and was not trained on.
 */
export interface FpStudyResult {
  study: 'fp-study';
  dataset: string;
  trigger: string;
  target: string;
  name: string;
  trainAccessories: string[];
  testAccessories: string[];
  settings: FpStudySettings;
  before: FpStudyModel;
  after: FpStudyModel;
  /** The train accessories first, then the test accessories, each in the order given. */
  accessories: FpStudyAccessory[];
  /**
   * Source photos (`identity/stem`) no photo of which either pair trained on: every rate above is
   * over photos of these sources only.
   */
  heldOutSources: string[];
  createdAt: string;
  seconds: number;
}

/** One training of a learning-rate sweep. */
export interface LrSweepRun {
  learningRate: number;
  /** Its bundles are `<pair>-clean` and `<pair>-backdoor`. */
  pair: string;
  curves: TrainingCurves;
  /** The backdoored model's accuracy on held-out clean photos and its attack success. */
  accuracy: Rate;
  attackSuccessRate: Rate;
  /** The clean model's, for comparison. */
  cleanModelAccuracy: Rate;
  seconds: number;
}

/** The paper's Figure 2: the same poisoning trained at several learning rates, with its loss curves. */
export interface LrSweepResult {
  study: 'lr-sweep';
  dataset: string;
  trigger: string;
  target: string;
  name: string;
  runs: LrSweepRun[];
  createdAt: string;
  seconds: number;
}
