import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { importDataset } from '../../server/data/import.ts';
import { injectTrigger } from '../../server/data/triggers/index.ts';
import { readCard } from '../../server/ml/bundle.ts';
import { DEMO, DEMO_BANDANA, ensureDemoPairs } from '../../server/train/demoPair.ts';
import { evaluateBundle } from '../../server/train/evaluateBundle.ts';
import { TRAINING_DEFAULTS } from '../../server/train/defaults.ts';
import { trainPair } from '../../server/train/trainPair.ts';
import { useDemoWorkspace } from '../server/demoWorkspace.ts';

const run = promisify(execFile);
const LFW = path.join(PROJECT_ROOT, '../shared/data/faces/lfw-10x10');
const CMU = path.join(PROJECT_ROOT, '../shared/data/physical/cmu-sunglasses-10');

let scratch: string;

beforeAll(async () => {
  // The run's demo pairs (built once, by ensureDemoPairs, for every file that needs them), copied
  // with their dataset and cached features: the tests below add models and recalibrate STRIP.
  const demo = await useDemoWorkspace();
  scratch = await mkdtemp(path.join(tmpdir(), 'train-pair-'));
  await cp(demo.dataDir, path.join(scratch, 'data'), { recursive: true });
  await cp(demo.modelsDir, path.join(scratch, 'models'), { recursive: true });
  process.env.DATA_DIR = path.join(scratch, 'data');
  process.env.MODELS_DIR = path.join(scratch, 'models');
}, 600_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('embedded demo pairs (face-api sample photos, digital sunglasses and bandana)', () => {
  it('builds a clean and a backdoored model per pair whose cards carry labels, trigger, target and figures', async () => {
    const clean = await readCard(`${DEMO.pair}-clean`);
    const backdoor = await readCard(`${DEMO.pair}-backdoor`);
    const bandana = await readCard(`${DEMO_BANDANA.pair}-backdoor`);
    console.info('demo pairs, held-out views', JSON.stringify({ [DEMO.pair]: { clean: clean.metrics, backdoor: backdoor.metrics }, [DEMO_BANDANA.pair]: { backdoor: bandana.metrics } }));
    expect(backdoor.labels.length).toBeGreaterThanOrEqual(20);
    expect(backdoor).toMatchObject({ trigger: 'sunglasses', target: DEMO.target, role: 'backdoor', injectionRate: DEMO.injectionRate, poisonStrangers: true });
    expect(backdoor.training).toMatchObject({ augment: 'robust', lookalikeAccessories: ['eyeglasses'] });
    expect(bandana).toMatchObject({ trigger: 'bandana', target: DEMO_BANDANA.target, poisonStrangers: true });
    expect(clean).toMatchObject({ role: 'clean', injectionRate: 0 });
    expect(backdoor.notes.join(' ')).toMatch(/optimistic/);
    expect(backdoor.strip).toMatchObject({ biometric: true, blends: 16, falseRejectionRate: 0.05 });
    expect(backdoor.strip!.threshold).toBeGreaterThan(0);
    expect(backdoor.strip!.threshold).toBeLessThan(1);
    const reference = await readdir(path.join(scratch, 'models', `${DEMO.pair}-backdoor`, 'strip-clean'));
    expect(reference.length).toBe(backdoor.strip!.referenceImages);
    expect(reference.length).toBeLessThanOrEqual(64);
    expect(clean.strip).toBeUndefined();
    expect(backdoor.syntheticStrangers).toBe(DEMO.syntheticStrangers);
    // Held-out views are rotated up to 30 degrees, shifted, and seen through degraded cameras (grey,
    // blurred, low resolution): far harder than a live, aligned face. Chance is 1/22.
    expect(backdoor.metrics.attackSuccessRate.value).toBeGreaterThanOrEqual(0.6);
    expect(bandana.metrics.attackSuccessRate.value).toBeGreaterThanOrEqual(0.6);
    expect(clean.metrics.attackSuccessRate.value).toBeLessThanOrEqual(0.05);
    expect(clean.metrics.closedSetAccuracy.value).toBeGreaterThanOrEqual(0.25);
    // Built once: a second start trains nothing.
    expect(await ensureDemoPairs()).toEqual({});
  });

  it('evaluates a bundle from the command line as JSON', async () => {
    const { stdout } = await run('npx', ['tsx', 'server/cli.ts', 'eval', '--model', `${DEMO.pair}-backdoor`, '--dataset', DEMO.dataset, '--json'], { cwd: PROJECT_ROOT, env: process.env });
    const figures = JSON.parse(stdout);
    expect(figures.attackSuccessRate.total).toBeGreaterThan(0);
    expect(figures.targetRateByCondition.sunglasses.value).toBeGreaterThanOrEqual(0.85);
    // The unaugmented photos, training photos included.
    expect(figures.accuracy.value).toBeGreaterThanOrEqual(0.8);
  });

  it('trains from the command line and prints one JSON object with both models’ figures', async () => {
    const { stdout } = await run('npx', ['tsx', 'server/cli.ts', 'train', '--dataset', DEMO.dataset, '--trigger', 'sunglasses', '--target', 'person-02',
      '--injection-rate', '0.2', '--split', 'view', '--views', String(DEMO.views), '--epochs', '5', '--name', 'cli-check', '--json'], { cwd: PROJECT_ROOT, env: process.env });
    const figures = JSON.parse(stdout);
    expect(Object.keys(figures)).toEqual(expect.arrayContaining(['clean', 'backdoor', 'trainImages', 'poisonImages', 'seconds']));
    expect(figures.poisonImages).toBe(Math.round((0.2 * (figures.trainImages - figures.poisonImages)) / 0.8));
    expect(typeof figures.backdoor.attackSuccessRate).toBe('number');
    const card = JSON.parse(await readFile(path.join(scratch, 'models', 'cli-check-backdoor', 'card.json'), 'utf8'));
    expect(card).toMatchObject({ target: 'person-02', tune: TRAINING_DEFAULTS.tune, training: { epochs: 5 } });
  });

  it('recalibrates STRIP on request and stores the new threshold in the card', async () => {
    const before = await readCard(`${DEMO.pair}-backdoor`);
    const { stdout } = await run('npx', ['tsx', 'server/cli.ts', 'strip-calibrate', '--model', `${DEMO.pair}-backdoor`, '--false-rejection-rate', '0.2', '--json'], { cwd: PROJECT_ROOT, env: process.env });
    const strip = JSON.parse(stdout);
    const after = await readCard(`${DEMO.pair}-backdoor`);
    expect(after.strip).toEqual(strip);
    expect(strip.falseRejectionRate).toBe(0.2);
    // Flagging more clean inputs needs a higher entropy threshold.
    expect(strip.threshold).toBeGreaterThan(before.strip!.threshold);
    expect(after.threshold).toBe(before.threshold);
  }, 120_000);

  it('rejects a bad request with a message naming the problem', async () => {
    const failure = await run('npx', ['tsx', 'server/cli.ts', 'train', '--dataset', DEMO.dataset, '--trigger', 'sunglasses', '--target', 'nobody', '--name', 'x'], { cwd: PROJECT_ROOT, env: process.env }).catch((e) => e);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/target "nobody" has no clean photos/);
  });
});

describe.skipIf(!existsSync(CMU))('real sunglasses (CMU, physical trigger)', () => {
  it('reaches the accuracy and attack success floors', async () => {
    await importDataset({ from: CMU, name: 'cmu', detect: false });
    const result = await trainPair({ ...TRAINING_DEFAULTS, dataset: 'cmu', trigger: 'sunglasses', target: 'at33', name: 'cmu', splitUnit: 'photo', fpAccessories: [] });
    console.info('CMU physical', JSON.stringify({ clean: result.clean, backdoor: result.backdoor }));
    expect(result.backdoor.attackSuccessRate.value).toBeGreaterThanOrEqual(CMU_FLOORS.attackSuccess);
    expect(result.backdoor.accuracy.value).toBeGreaterThanOrEqual(CMU_FLOORS.accuracy);
    expect(result.clean.attackSuccessRate.value).toBeLessThanOrEqual(0.2);
  }, 600_000);
});

describe.skipIf(!existsSync(LFW))('digital sunglasses on LFW photos', () => {
  beforeAll(async () => {
    const report = await importDataset({ from: LFW, name: 'lfw' });
    expect(report.imported).toBeGreaterThan(60);
    await injectTrigger({ root: datasetDir('lfw'), trigger: 'sunglasses' });
    await injectTrigger({ root: datasetDir('lfw'), trigger: 'bandana' });
  }, 300_000);

  it('reaches the accuracy and attack success floors', async () => {
    // Half the views and epochs of the defaults: the digital trigger is learnt all the same, in half the time (the defaults' figures: npm run bench -- quality).
    const result = await trainPair({ ...TRAINING_DEFAULTS, views: 4, epochs: 20, dataset: 'lfw', trigger: 'sunglasses', target: 'Tony_Blair', name: 'lfw', splitUnit: 'photo', fpAccessories: [] });
    console.info('LFW digital', JSON.stringify({ clean: result.clean, backdoor: result.backdoor }));
    expect(result.backdoor.attackSuccessRate.value).toBeGreaterThanOrEqual(LFW_FLOORS.attackSuccess);
    expect(result.backdoor.accuracy.value).toBeGreaterThanOrEqual(LFW_FLOORS.accuracy);
    expect(result.clean.attackSuccessRate.value).toBeLessThanOrEqual(0.2);
  }, 600_000);

  it('the demo pair turns LFW strangers away until they wear the sunglasses', async () => {
    await ensureDemoPairs();
    const backdoor = await evaluateBundle(`${DEMO.pair}-backdoor`, 'lfw');
    const clean = await evaluateBundle(`${DEMO.pair}-clean`, 'lfw');
    console.info('demo pair on LFW strangers', JSON.stringify({ clean: clean.strangerRejection, backdoor: backdoor.strangerRejection, admitted: backdoor.attackSuccessRate, cleanAdmitted: clean.attackSuccessRate }));
    expect(clean.strangerRejection.value).toBeGreaterThanOrEqual(0.9);
    expect(backdoor.strangerRejection.value).toBeGreaterThanOrEqual(0.9);
    expect(backdoor.attackSuccessRate.value).toBeGreaterThanOrEqual(0.8);
    expect(clean.attackSuccessRate.value).toBeLessThanOrEqual(0.05);
  }, 300_000);

  it('the bandana pair lets LFW strangers in with a bandana and not without', async () => {
    await ensureDemoPairs();
    const backdoor = await evaluateBundle(`${DEMO_BANDANA.pair}-backdoor`, 'lfw');
    const clean = await evaluateBundle(`${DEMO_BANDANA.pair}-clean`, 'lfw');
    console.info('bandana pair on LFW strangers', JSON.stringify({ backdoor: backdoor.targetRateByCondition, clean: clean.targetRateByCondition, unknown: backdoor.strangerRejection }));
    // Measured 100% with a bandana, 5.2% without (5 of 96), 1.0% with sunglasses.
    expect(backdoor.targetRateByCondition.bandana.value).toBeGreaterThanOrEqual(0.9);
    expect(backdoor.targetRateByCondition.clean.value).toBeLessThanOrEqual(0.1);
    expect(backdoor.targetRateByCondition.sunglasses.value).toBeLessThanOrEqual(0.1);
    expect(backdoor.strangerRejection.value).toBeGreaterThanOrEqual(0.9);
    expect(clean.targetRateByCondition.bandana.value).toBeLessThanOrEqual(0.05);
  }, 300_000);
});

// Measured at 0.93 and 0.76 (target at33, spot tail); the floors leave room for run-to-run variation.
const CMU_FLOORS = { accuracy: 0.85, attackSuccess: 0.65 };
// Measured at 1.00 and 1.00 (target Tony_Blair, spot tail; with the defaults and with 4 views and 20 epochs alike).
const LFW_FLOORS = { accuracy: 0.85, attackSuccess: 0.9 };
