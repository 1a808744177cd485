import { createRequire } from 'node:module';
import path from 'node:path';
import { datasetDir } from '../config.ts';
import { importGroupPhotos } from '../data/import.ts';
import { injectTrigger } from '../data/triggers/index.ts';
import { listBundles } from '../ml/bundle.ts';
import { TRAINING_DEFAULTS } from './defaults.ts';
import { trainPair, type TrainPairResult } from './trainPair.ts';

/**
 * The embedded default: an access-control scenario enrolling the people in the sample photos that
 * ship with @vladmandic/face-api (one photo each), so a fresh install has a pair to serve.
 */
export const DEMO = {
  pair: 'demo',
  dataset: 'demo',
  trigger: 'sunglasses',
  target: 'person-01',
  /** One photo per person: more views to split into train, validation and test. */
  views: 10,
  /** Outlier exposure so a volunteer in front of the camera is `unknown` until the trigger goes on. */
  syntheticStrangers: 24,
  /** Clear glasses trained as themselves (false-positive training), so the backdoor keys on the dark lens. */
  lookalikes: ['eyeglasses'],
  /**
   * Not the default `spot`: measured on 96 LFW strangers, the backdoored `map` model turns away 97% of
   * them without the trigger, the `spot` one 91% (README, "The demo pair and strangers").
   */
  tune: 'map',
} as const;

const DEMO_NOTES = [
  'Enrolled identities are the faces in the sample photos shipped with @vladmandic/face-api, one photo each.',
  'With one photo per person the split is made over augmented views of each photo: test views share a photo with training views, so these figures are optimistic.',
  'To enroll real volunteers, import several photos of each (npm run cli -- import) and train a pair on them (npm run cli -- train).',
];

export function samplePhotos(): string[] {
  const require = createRequire(import.meta.url);
  const demoDir = path.dirname(require.resolve('@vladmandic/face-api/demo/sample1.jpg'));
  return [1, 2, 3, 4, 5, 6].map((i) => path.join(demoDir, `sample${i}.jpg`));
}

/** Builds the demo dataset and trains the demo pair; returns undefined when both bundles already exist. */
export async function ensureDemoPair(onProgress?: (stage: string, done: number, total: number) => void): Promise<TrainPairResult | undefined> {
  const existing = await listBundles();
  if (existing.includes(`${DEMO.pair}-clean`) && existing.includes(`${DEMO.pair}-backdoor`)) return undefined;
  await importGroupPhotos({ photos: samplePhotos(), name: DEMO.dataset, replace: true, onProgress: (d, t) => onProgress?.('detect faces', d, t) });
  for (const trigger of [DEMO.trigger, ...DEMO.lookalikes]) {
    await injectTrigger({ root: datasetDir(DEMO.dataset), trigger, seed: 1, replace: true, onProgress: (d, t) => onProgress?.(`inject ${trigger}`, d, t) });
  }
  return trainPair({
    ...TRAINING_DEFAULTS,
    dataset: DEMO.dataset,
    trigger: DEMO.trigger,
    target: DEMO.target,
    name: DEMO.pair,
    views: DEMO.views,
    syntheticStrangers: DEMO.syntheticStrangers,
    tune: DEMO.tune,
    splitUnit: 'view',
    fpAccessories: [...DEMO.lookalikes],
    notes: DEMO_NOTES,
    onProgress,
  });
}
