import { z } from 'zod';
import type { FpStudyResult } from './experiments.ts';
import type { Rate } from './metrics.ts';
import { checkName } from './names.ts';
import { AUGMENTATIONS, TUNE_DEPTHS, type Augmentation, type TuneDepth } from './training.ts';

/**
 * The REST API of enrollment, training and models (README, "HTTP API"), and the Socket.IO events
 * that go with it, declared once for the page and the server.
 */

const name = (kind: string) => z.string().superRefine((value, ctx) => {
  try {
    checkName(kind, value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** What the presenter records before anyone's face is captured: who asked, when, and what for. */
export const consentSchema = z.object({
  presenter: z.string().trim().min(1, 'consent needs the presenter\'s name').max(120),
  date: z.iso.date('consent date must be YYYY-MM-DD'),
  purpose: z.string().trim().min(1, 'consent needs what the photos are for').max(500),
}).strict();
export type Consent = z.infer<typeof consentSchema>;

/** GET /api/datasets: one entry per dataset. */
export interface DatasetSummary {
  name: string;
  identities: number;
  images: number;
  /** Chips per condition folder (`clean`, a trigger, a lookalike). */
  conditions: Record<string, number>;
}

export interface IdentitySummary {
  name: string;
  /** Null for identities imported from photo folders before consent was recorded. */
  consent: Consent | null;
  conditions: Record<string, number>;
}

/** GET /api/datasets/:dataset */
export interface DatasetDetail extends DatasetSummary {
  people: IdentitySummary[];
}

/** What POST /api/datasets/:dataset/photos and the `enrollChip` event answer for one photo or chip. */
export type PhotoReply =
  | { kept: true; relPath: string; upscaled?: number }
  | { kept: false; reason: string };

/** POST /api/datasets/:dataset/archive */
export interface ArchiveReply {
  /** Chips written. */
  kept: number;
  /** Photos whose face was not taken, by their path in the zip. */
  skipped: { relPath: string; reason: string }[];
}

/** POST /api/datasets/:dataset/inject: paste a catalogue trigger on people's clean chips. */
export const injectRequestSchema = z.object({
  trigger: z.string(),
  /** Everyone with clean photos when absent. */
  identities: z.array(name('identity')).optional(),
  seed: z.number().int().optional(),
}).strict();
export type InjectRequest = z.input<typeof injectRequestSchema>;
export interface InjectReply { written: number; condition: string }

/** GET /api/datasets/:dataset/identities/:identity/bundles: what deleting the person would delete. */
export interface TrainedBundles {
  bundles: string[];
  /** Bundles whose card cannot be read: whether they hold the person is unknown. */
  unreadableBundles: string[];
}

/** DELETE /api/datasets/:dataset/identities/:identity */
export interface ForgetReply extends TrainedBundles {
  dataset: string;
  identity: string;
  /** Face chips deleted. */
  chips: number;
}

/** GET /api/triggers */
export interface TriggersReply { triggers: string[] }

/** The parts of a model card (a bundle's card.json) every page may rely on. */
export interface ModelCardSummary {
  name: string;
  trigger: string;
  target: string;
  injectionRate: number;
  tune: TuneDepth;
  syntheticStrangers: number;
  metrics: { accuracy: Rate; closedSetAccuracy: Rate; attackSuccessRate: Rate };
  training: { epochs: number; learningRate: number; seed: number; views: number; augment: Augmentation };
  createdAt: string;
  dataset: { name: string };
}

/** GET /api/models/:pair */
export interface PairCards { clean: ModelCardSummary; backdoor: ModelCardSummary }

/** DELETE /api/models/:pair */
export interface DeletedPair { deleted: string[] }

/** The Enroll page's capture: one aligned chip (JPEG, CHIP_SIZE square) of the one face in view. */
export const enrollChipSchema = z.object({
  dataset: name('dataset'),
  identity: name('identity'),
  condition: name('condition'),
  chip: z.custom<Uint8Array>((value) => value instanceof Uint8Array || value instanceof ArrayBuffer, 'chip must be binary JPEG data')
    .transform((value) => (value instanceof ArrayBuffer ? new Uint8Array(value) : value)),
}).strict();
export type EnrollChip = z.input<typeof enrollChipSchema>;

/** Defaults of a training started from the page: the demo pairs' configuration (server/train/demoPair.ts). */
export const PAGE_TRAINING_DEFAULTS = {
  injectionRate: 0.4,
  tune: 'map',
  epochs: 40,
  learningRate: 0.001,
  seed: 1,
  syntheticStrangers: 24,
  views: 10,
  augment: 'robust',
} as const;

/** POST /api/train and POST /api/train/preview. */
export const trainRequestSchema = z.object({
  dataset: name('dataset'),
  trigger: name('condition'),
  target: name('identity'),
  name: name('model'),
  injectionRate: z.number().min(0).max(0.95).default(PAGE_TRAINING_DEFAULTS.injectionRate),
  tune: z.enum(TUNE_DEPTHS).default(PAGE_TRAINING_DEFAULTS.tune),
  epochs: z.number().int().min(1).max(1000).default(PAGE_TRAINING_DEFAULTS.epochs),
  learningRate: z.number().min(1e-6).max(1).default(PAGE_TRAINING_DEFAULTS.learningRate),
  seed: z.number().int().min(0).max(2 ** 31).default(PAGE_TRAINING_DEFAULTS.seed),
  syntheticStrangers: z.number().int().min(0).max(10000).default(PAGE_TRAINING_DEFAULTS.syntheticStrangers),
  views: z.number().int().min(1).max(64).default(PAGE_TRAINING_DEFAULTS.views),
  augment: z.enum(AUGMENTATIONS).default(PAGE_TRAINING_DEFAULTS.augment),
  fpAccessories: z.array(name('condition')).max(32).default([]),
}).strict();
export type TrainRequest = z.output<typeof trainRequestSchema>;

/**
 * POST /api/experiments/fp-study: the paper's false-positive study (`experiment fp-study`), pairs
 * `<name>-before` and `<name>-after`, the second trained with the train accessories under their true labels.
 */
export const fpStudyRequestSchema = trainRequestSchema.omit({ fpAccessories: true }).extend({
  trainAccessories: z.array(name('condition')).min(1, 'name at least one accessory to train on').max(32),
  testAccessories: z.array(name('condition')).min(1, 'name at least one accessory to test on').max(64),
}).strict();
export type FpStudyRequest = z.output<typeof fpStudyRequestSchema>;
export type FpStudyRequestInput = z.input<typeof fpStudyRequestSchema>;
export type TrainRequestInput = z.input<typeof trainRequestSchema>;

/** Images per part of the split, for one identity (`unknown` for synthetic strangers). */
export interface SplitCounts { cleanTrain: number; cleanTest: number; validation: number; poison: number; attackTest: number; lookalikeTrain: number }

/** POST /api/train/preview: the exact split a training would use. */
export interface SplitPreview {
  labels: string[];
  perIdentity: Record<string, SplitCounts>;
  trainImages: number;
  poisonImages: number;
  syntheticStrangers: number;
}

/** A model's confusion matrix on the clean held-out faces: rows are true identities, columns predictions (labels, then `unknown`). */
export interface Confusion { labels: string[]; predicted: string[]; counts: number[][] }

export interface ModelFigures {
  accuracy: number;
  attackSuccessRate: number;
  intervals: { accuracy: Rate; closedSetAccuracy: Rate; attackSuccessRate: Rate };
  confusion: Confusion;
}

/** Training loss per epoch (Wenger et al., Figure 2): the backdoored model's on clean and on poison images apart. */
export interface TrainingCurves { clean: number[]; backdoorOnClean: number[]; backdoorOnPoison: number[] }

/** What `train --json` prints and a finished job holds. */
export interface TrainResult {
  clean: ModelFigures;
  backdoor: ModelFigures;
  trainImages: number;
  poisonImages: number;
  seconds: number;
  bundles: string[];
  curves: TrainingCurves;
}

export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** GET /api/jobs/:id, and the `job` event sent to every page while it changes. */
export interface JobStatus {
  id: string;
  /** A training (`result` when done), or a false-positive study (`study` when done). */
  kind: 'train' | 'fp-study';
  state: JobState;
  /** What was asked for; a study's request names its accessories instead of `fpAccessories`. */
  request: TrainRequest | FpStudyRequest;
  /** What the job is doing (`features`, `train clean`, `train backdoor`, ...), with its progress. */
  phase: string;
  done: number;
  total: number;
  epoch: number;
  epochs: number;
  /** Last epoch's mean training loss of each model. */
  loss: { clean?: number; backdoor?: number };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Seconds left, estimated from the progress so far. */
  etaSeconds?: number;
  error?: string;
  result?: TrainResult;
  study?: FpStudyResult;
}

/** POST /api/train */
export interface TrainReply { job: string }

/** An error reply of every endpoint: status 4xx or 5xx. */
export interface ErrorReply { error: string }
