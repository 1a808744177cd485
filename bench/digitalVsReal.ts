/**
 * The paper's section 7 (Figure 10): poison with digitally pasted sunglasses, then ask whether
 * real people wearing real sunglasses set the backdoor off as often as the digital copies do. On
 * the CMU photos (10 people, clean and real-sunglasses photos of each), enlarged and imported with
 * face detection so that every chip is aligned as the live page aligns faces (`--no-detect`: the
 * whole head shots, every head pose, as the quality bench uses them): the digital trigger is
 * pasted onto every clean chip as a separate condition, pairs are trained on it alone (no real
 * sunglasses photo is ever trained on), and the backdoored model is then shown every real
 * sunglasses photo of the other people. Optionally (on by default) the demo pair meets the CMU
 * people as strangers. Needs ../shared/data; skips cleanly when it is absent.
 *
 *   npm run bench -- digital-vs-real [--targets 3] [--injection-rates 0.1,0.25,0.4] [--epochs 40] [--views 8]
 *     [--poses straight,left,right,up] [--no-detect] [--cmu-upscale 3] [--placement landmarks|canonical]
 *     [--skip-demo] [--json]
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import type { FaceKeypoints, Point } from '../shared/alignment.ts';
import { CLEAN } from '../shared/names.ts';
import { formatRate, mean, rate, type Rate } from '../shared/metrics.ts';
import { datasetDir, PROJECT_ROOT } from '../server/config.ts';
import { readKeypoints, scanDataset, writeKeypoints } from '../server/data/dataset.ts';
import { detectFaces } from '../server/data/detector.ts';
import { readRgb } from '../server/data/images.ts';
import { chipsPerCondition, importDataset } from '../server/data/import.ts';
import { injectTrigger } from '../server/data/triggers/index.ts';
import { initBackend } from '../server/ml/backend.ts';
import { progressReporter } from '../server/progress.ts';
import { TRAINING_DEFAULTS } from '../server/train/defaults.ts';
import { DEMO, ensureDemoPairs } from '../server/train/demoPair.ts';
import { evaluateBundle } from '../server/train/evaluateBundle.ts';
import { trainPair } from '../server/train/trainPair.ts';
import { CMU_POSES, enlargedCmu } from './cmuPhotos.ts';

const BENCH = 'digital-vs-real';
const CMU = '../shared/data/physical/cmu-sunglasses-10';
const DATASET = 'cmu';
const ALIGNED = 'cmu-aligned';
const REAL = 'sunglasses';
const DIGITAL = 'sunglasses-digital';
const PAIR = 'bench-digital';
/** Landmarks for trigger placement are found on the chip enlarged this much (CMU's faces are small). */
const PLACEMENT_UPSCALE = 3;

const options = new Command(BENCH)
  .option('--targets <n>', 'target identities (the first n, sorted)', (v) => Number.parseInt(v, 10), 3)
  .option('--injection-rates <list>', 'comma-separated injection rates r = m / (n + m)', '0.1,0.25,0.4')
  .option('--epochs <n>', 'epochs', (v) => Number.parseInt(v, 10), TRAINING_DEFAULTS.epochs)
  .option('--views <n>', 'augmented views per photo', (v) => Number.parseInt(v, 10), TRAINING_DEFAULTS.views)
  .option('--poses <list>', `comma-separated head poses to import (the file name's second field): ${CMU_POSES.join(', ')}`, CMU_POSES.join(','))
  .option('--no-detect', 'import the CMU photos as whole head shots (every head pose, faces not aligned) instead of detected and aligned faces')
  .option('--cmu-upscale <factor>', 'enlarge the CMU photos this much (sharp lanczos3) before every import with detection', (v) => Number.parseInt(v, 10), 3)
  .option('--placement <how>', 'with --no-detect, where the digital sunglasses go on the head shots: landmarks (found on each chip) or canonical (injectTrigger\'s default for chips without keypoints)', 'landmarks')
  .option('--skip-demo', 'do not evaluate the demo pair on the CMU people as strangers')
  .option('--json', 'print one JSON object on stdout (progress goes to stderr)')
  .parse(process.argv.slice(2).filter((a) => a !== BENCH), { from: 'user' })
  .opts<{ targets: number; injectionRates: string; epochs: number; views: number; poses: string; placement: string; detect: boolean; cmuUpscale: number; skipDemo?: boolean; json?: boolean }>();
if (!(options.targets >= 1)) throw new Error('--targets must be a whole number of at least 1');
if (!(options.epochs >= 1)) throw new Error('--epochs must be a whole number of at least 1');
if (!(options.views >= 1)) throw new Error('--views must be a whole number of at least 1');
const poses = options.poses.split(',').map((p) => p.trim());
const badPose = poses.find((p) => !CMU_POSES.includes(p));
if (badPose !== undefined) throw new Error(`--poses: "${badPose}" is not one of ${CMU_POSES.join(', ')}`);
if (!(options.cmuUpscale >= 1 && options.cmuUpscale <= 8)) throw new Error('--cmu-upscale must be a whole number from 1 to 8');
if (!['landmarks', 'canonical'].includes(options.placement)) throw new Error('--placement must be landmarks or canonical');
const rateTexts = options.injectionRates.split(',');
const injectionRates = rateTexts.map(Number);
const badRate = rateTexts.find((text, i) => text.trim() === '' || !(injectionRates[i] > 0 && injectionRates[i] < 1));
if (badRate !== undefined) throw new Error(`--injection-rates: "${badRate}" is not a rate strictly between 0 and 1`);

// With --json, stdout carries the one JSON object and nothing else: whatever a library or this
// script logs goes to stderr.
const json = Boolean(options.json);
if (json) console.log = console.error;
const log = (line: string) => console.error(line);

const from = path.join(PROJECT_ROOT, CMU);
if (!existsSync(from)) {
  log(`skipping ${BENCH}: ${from} is absent`);
  if (json) process.stdout.write(`${JSON.stringify({ skipped: `${from} is absent` })}\n`);
  process.exit(0);
}

// The scratch folder holds copies of the photos and models trained on them: remove it however the bench ends.
const scratch = await mkdtemp(path.join(tmpdir(), 'bench-digital-vs-real-'));
process.env.DATA_DIR = path.join(scratch, 'data');
process.env.MODELS_DIR = path.join(scratch, 'models');
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

const started = Date.now();
const progress = progressReporter();
log(`backend ${(await initBackend()).name}; poses ${poses.join(', ')}; tail ${TRAINING_DEFAULTS.tune}, ${options.views} views, ${options.epochs} epochs, r = ${injectionRates.join(', ')}, trigger ${DIGITAL} placed by ${options.detect ? 'each aligned chip\'s keypoints' : options.placement}`);

/** The CMU folder, or a copy of the photos in the chosen poses enlarged `factor` times for the face detector. */
async function cmuSource(factor: number): Promise<string> {
  if (factor === 1 && CMU_POSES.every((p) => poses.includes(p))) return from;
  return enlargedCmu(from, path.join(scratch, `cmu-x${factor}`), factor, poses);
}

/** Imports the CMU folder as dataset `name`; returns the chips written per condition and the photos skipped. */
async function importCmu(name: string, detect: boolean): Promise<{ chips: Record<string, number>; skipped: number }> {
  const report = await importDataset({ from: await cmuSource(detect ? options.cmuUpscale : 1), name, detect, replace: true, onProgress: (d, t) => progress.update(`import ${name}`, d, t) });
  progress.stop();
  const chips = chipsPerCondition(report);
  log(`imported ${name}${detect ? ` with detection (x${options.cmuUpscale})` : ''}: ${Object.entries(chips).map(([c, n]) => `${n} ${c}`).join(', ')}; ${report.skipped.length} skipped`);
  return { chips, skipped: report.skipped.length };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[Math.floor(middle)];
}

function medianKeypoints(faces: FaceKeypoints[]): FaceKeypoints {
  const keys = Object.keys(faces[0]) as (keyof FaceKeypoints)[];
  return Object.fromEntries(keys.map((key): [string, Point] => [key, { x: median(faces.map((f) => f[key].x)), y: median(faces.map((f) => f[key].y)) }])) as unknown as FaceKeypoints;
}

/**
 * Chips imported without detection have no keypoints, and injectTrigger then places the trigger
 * at the canonical eye positions stretched to the chip: on CMU's head shots (eyes about 25 px
 * apart, not 42) that is a mask two to three times too wide, over the forehead of a turned head.
 * This finds each clean chip's landmarks (on the chip enlarged PLACEMENT_UPSCALE times) and, where
 * the detector finds no face, takes the median landmarks of the same person in the same head pose
 * (the file name's second field), else of that pose across people, else of that person.
 */
async function placeByLandmarks(root: string): Promise<string> {
  const known = await readKeypoints(root);
  const clean = (await scanDataset(root)).images.filter((image) => image.condition === CLEAN && !known[image.relPath]);
  const found: Record<string, FaceKeypoints> = {};
  for (const [done, image] of clean.entries()) {
    const chip = sharp(image.file);
    const { width, height } = await chip.metadata();
    const enlarged = await readRgb(await chip.resize(width * PLACEMENT_UPSCALE, height * PLACEMENT_UPSCALE, { kernel: 'lanczos3' }).png().toBuffer());
    const face = (await detectFaces(enlarged))[0];
    if (face) {
      const scaled = Object.entries(face.keypoints).map(([key, p]) => [key, { x: p.x / PLACEMENT_UPSCALE, y: p.y / PLACEMENT_UPSCALE }]);
      found[image.relPath] = Object.fromEntries(scaled) as FaceKeypoints;
    }
    progress.update('find landmarks', done + 1, clean.length);
  }
  progress.stop();
  const pose = (relPath: string) => path.basename(relPath).split('_')[1] ?? '';
  const identity = (relPath: string) => relPath.split('/')[0];
  const groups = [
    (relPath: string) => `${identity(relPath)}/${pose(relPath)}`,
    (relPath: string) => `pose ${pose(relPath)}`,
    (relPath: string) => identity(relPath),
  ];
  const members = groups.map((group) => {
    const byKey = new Map<string, FaceKeypoints[]>();
    for (const [relPath, face] of Object.entries(found)) byKey.set(group(relPath), [...(byKey.get(group(relPath)) ?? []), face]);
    return byKey;
  });
  const borrowed: Record<string, FaceKeypoints> = {};
  for (const image of clean.filter((i) => !found[i.relPath])) {
    const level = groups.findIndex((group, i) => members[i].has(group(image.relPath)));
    if (level >= 0) borrowed[image.relPath] = medianKeypoints(members[level].get(groups[level](image.relPath))!);
  }
  await writeKeypoints(root, { ...known, ...found, ...borrowed });
  const left = clean.length - Object.keys(found).length - Object.keys(borrowed).length;
  return `${Object.keys(found).length} of ${clean.length} clean chips placed by their own landmarks, ${Object.keys(borrowed).length} by their group's median${left ? `, ${left} at the canonical position` : ''}`;
}

// 1-2. The dataset: CMU's clean and real-sunglasses photos, plus a digital-sunglasses copy of every clean one.
const cmuImport = await importCmu(DATASET, options.detect);
// Detected chips carry their keypoints; head shots need their landmarks found.
if (!options.detect && options.placement === 'landmarks') log(await placeByLandmarks(datasetDir(DATASET)));
const injected = await injectTrigger({ root: datasetDir(DATASET), trigger: 'sunglasses', condition: DIGITAL, replace: true, onProgress: (d, t) => progress.update('inject', d, t) });
progress.stop();
log(`pasted digital sunglasses on ${injected.written} clean chips (condition ${DIGITAL})`);
const targets = (await scanDataset(datasetDir(DATASET))).identities.slice(0, options.targets);

// 3-4. Pairs trained on the digital trigger, scored on digital (held out) and real sunglasses.
interface TargetResult {
  target: string;
  poisonImages: number;
  cleanAccuracy: Rate;
  backdoorAccuracy: Rate;
  /** Backdoored model: held-out digitally triggered photos of non-targets answered as the target. */
  attackDigital: Rate;
  /** Backdoored model: every real-sunglasses photo of non-targets answered as the target. */
  attackReal: Rate;
  /** The clean model on the same photos (near 0 when the backdoor, not the face, does it). */
  cleanModelAttackDigital: Rate;
  cleanModelAttackReal: Rate;
  /** Backdoored model: clean photos of non-targets answered as the target (training photos included). */
  falseFires: Rate;
  seconds: number;
}
interface Spread { mean: number | null; std: number | null; n: number }
/** Mean and sample standard deviation over targets of a rate's value (targets with no trials left out). */
function spread(rates: Rate[]): Spread {
  const values = rates.map((r) => r.value).filter((v): v is number => v !== null);
  if (values.length === 0) return { mean: null, std: null, n: 0 };
  const average = mean(values);
  const std = values.length < 2 ? null : Math.sqrt(values.reduce((s, v) => s + (v - average) ** 2, 0) / (values.length - 1));
  return { mean: average, std, n: values.length };
}
const noTrials = rate(0, 0);

const rates = [];
for (const injectionRate of injectionRates) {
  const rows: TargetResult[] = [];
  for (const target of targets) {
    const result = await trainPair({
      ...TRAINING_DEFAULTS,
      epochs: options.epochs,
      views: options.views,
      injectionRate,
      dataset: DATASET,
      trigger: DIGITAL,
      target,
      name: PAIR,
      splitUnit: 'photo',
      fpAccessories: [],
      onProgress: progress.update,
    });
    const backdoor = await evaluateBundle(`${PAIR}-backdoor`, DATASET, progress.update);
    const clean = await evaluateBundle(`${PAIR}-clean`, DATASET, progress.update);
    progress.stop();
    const row: TargetResult = {
      target,
      poisonImages: result.poisonImages,
      cleanAccuracy: result.clean.accuracy,
      backdoorAccuracy: result.backdoor.accuracy,
      attackDigital: result.backdoor.attackSuccessRate,
      attackReal: backdoor.targetRateByCondition[REAL] ?? noTrials,
      cleanModelAttackDigital: result.clean.attackSuccessRate,
      cleanModelAttackReal: clean.targetRateByCondition[REAL] ?? noTrials,
      falseFires: backdoor.targetRateByCondition[CLEAN] ?? noTrials,
      seconds: result.seconds,
    };
    rows.push(row);
    log(`r=${injectionRate} target ${target}: attack real ${formatRate(row.attackReal)}, digital ${formatRate(row.attackDigital)} | accuracy clean ${formatRate(row.cleanAccuracy)}, backdoored ${formatRate(row.backdoorAccuracy)} (${row.poisonImages} poison photos, ${row.seconds.toFixed(0)} s)`);
  }
  rates.push({
    injectionRate,
    attackReal: spread(rows.map((r) => r.attackReal)),
    attackDigital: spread(rows.map((r) => r.attackDigital)),
    cleanAccuracy: spread(rows.map((r) => r.cleanAccuracy)),
    backdoorAccuracy: spread(rows.map((r) => r.backdoorAccuracy)),
    cleanModelAttackReal: spread(rows.map((r) => r.cleanModelAttackReal)),
    falseFires: spread(rows.map((r) => r.falseFires)),
    targets: rows,
  });
}

// 5. The demo pair meets the CMU people, none of whom it knows, aligned as the live page aligns faces.
interface DemoFigures { strangerUnknown: Rate; cleanToTarget: Rate; sunglassesToTarget: Rate }
let demo: { target: string; chips: Record<string, number>; skipped: number; backdoor: DemoFigures; clean: DemoFigures } | undefined;
if (!options.skipDemo) {
  await ensureDemoPairs(progress.update);
  progress.stop();
  // The demo pair is not trained on any of these photos: the aligned import above serves as it is.
  const [alignedName, aligned] = options.detect ? [DATASET, cmuImport] : [ALIGNED, await importCmu(ALIGNED, true)];
  const figures = async (model: string): Promise<DemoFigures> => {
    const e = await evaluateBundle(model, alignedName, progress.update);
    progress.stop();
    return { strangerUnknown: e.strangerRejection, cleanToTarget: e.targetRateByCondition[CLEAN] ?? noTrials, sunglassesToTarget: e.targetRateByCondition[REAL] ?? noTrials };
  };
  demo = { target: DEMO.target, ...aligned, backdoor: await figures(`${DEMO.pair}-backdoor`), clean: await figures(`${DEMO.pair}-clean`) };
}
const seconds = (Date.now() - started) / 1000;

// 6. Output.
if (json) {
  process.stdout.write(`${JSON.stringify({ poses, detect: options.detect, views: options.views, epochs: options.epochs, rates, demo: demo ?? null, seconds })}\n`);
} else {
  const pct = (s: Spread) => (s.mean === null ? 'n/a' : `${(100 * s.mean).toFixed(1)}%${s.std === null ? '' : ` ± ${(100 * s.std).toFixed(1)}`}`);
  console.log(`\nCMU, 10 people, poses ${poses.join(', ')}; trained on digital sunglasses only; mean ± standard deviation over ${targets.length} target(s) (${targets.join(', ')})\n`);
  console.log('| r | poison photos | clean model: accuracy | backdoored: accuracy | attack, digital (held out) | attack, real sunglasses | clean model on real sunglasses | backdoored on clean non-targets |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rates) {
    console.log(`| ${r.injectionRate} | ${[...new Set(r.targets.map((t) => t.poisonImages))].join(' / ')} | ${pct(r.cleanAccuracy)} | ${pct(r.backdoorAccuracy)} | ${pct(r.attackDigital)} | ${pct(r.attackReal)} | ${pct(r.cleanModelAttackReal)} | ${pct(r.falseFires)} |`);
  }
  console.log('\n| r | target | clean model: accuracy | backdoored: accuracy | attack, digital | attack, real | clean model: digital / real | backdoored on clean non-targets |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rates) {
    for (const t of r.targets) {
      console.log(`| ${r.injectionRate} | ${t.target} | ${formatRate(t.cleanAccuracy)} | ${formatRate(t.backdoorAccuracy)} | ${formatRate(t.attackDigital)} | ${formatRate(t.attackReal)} | ${formatRate(t.cleanModelAttackDigital)} / ${formatRate(t.cleanModelAttackReal)} | ${formatRate(t.falseFires)} |`);
    }
  }
  if (demo) {
    console.log(`\nThe demo pair on the CMU people as strangers (${Object.entries(demo.chips).map(([c, n]) => `${n} ${c}`).join(', ')} chips aligned; ${demo.skipped} photos skipped by the import)\n`);
    console.log(`| model | clean strangers answered unknown | clean strangers answered ${demo.target} | strangers in real sunglasses answered ${demo.target} |`);
    console.log('|---|---|---|---|');
    for (const [model, f] of [[`${DEMO.pair}-clean`, demo.clean], [`${DEMO.pair}-backdoor`, demo.backdoor]] as const) {
      console.log(`| ${model} | ${formatRate(f.strangerUnknown)} | ${formatRate(f.cleanToTarget)} | ${formatRate(f.sunglassesToTarget)} |`);
    }
  }
  console.log(`\n${seconds.toFixed(0)} s`);
}
