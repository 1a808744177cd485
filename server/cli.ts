import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { formatRate, type Rate } from '../shared/metrics.ts';
import { AUGMENTATIONS, TUNE_DEPTHS, type Augmentation, type TuneDepth } from '../shared/training.ts';
import { datasetDir } from './config.ts';
import { EXPERIMENT_DEFAULTS } from './experiments/defaults.ts';
import type { LogDatabase } from './log/db.ts';
import type { NamedLog } from './log/mergedReport.ts';
import type { PairFigures } from '../shared/report.ts';
import { initBackend } from './ml/backend.ts';
import { progressReporter } from './progress.ts';
import { TRAINING_DEFAULTS } from './train/defaults.ts';

function number(kind: 'int' | 'float', min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || (kind === 'int' && !Number.isInteger(value)) || value < min || value > max) {
      throw new InvalidArgumentError(`expected a ${kind === 'int' ? 'whole number' : 'number'} from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function commaList(raw: string): string[] {
  const names = raw.split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError(`expected comma-separated names, got "${raw}"`);
  return names;
}

function printRates(title: string, rates: Record<string, Rate>): void {
  console.log(title);
  for (const [name, r] of Object.entries(rates)) console.log(`  ${name.padEnd(22)} ${formatRate(r)}`);
}

async function run<T>(json: boolean, work: (progress: ReturnType<typeof progressReporter>) => Promise<T>, print: (result: T) => void): Promise<void> {
  const progress = progressReporter();
  try {
    const result = await work(progress);
    progress.stop();
    if (json) console.log(JSON.stringify(result));
    else print(result);
  } finally {
    progress.stop();
  }
}

async function withFrameLog(options: { readonly?: boolean; create?: boolean }, use: (log: LogDatabase) => void): Promise<void> {
  const { defaultLogFile, openLog } = await import('./log/db.ts');
  const log = openLog(defaultLogFile(), options);
  try {
    use(log);
  } finally {
    log.close();
  }
}

const program = new Command('cli')
  .description('Physical backdoor attacks on face recognition: datasets, triggers, training, evaluation')
  .showHelpAfterError();

program
  .command('import')
  .description('import photos laid out as <dir>/<identity>/[<condition>/]<image> into a dataset of aligned face chips')
  .argument('<dir>', 'folder of photos')
  .requiredOption('--dataset <name>', 'dataset to create under data/datasets/')
  .option('--no-detect', 'take every image as an already-cropped face (no detection or alignment)')
  .option('--strict', 'fail the whole import if any photo is skipped')
  .option('--replace', 'replace an existing dataset of that name')
  .option('--json', 'print the import report as JSON')
  .action(async (dir: string, opts: { dataset: string; detect: boolean; strict?: boolean; replace?: boolean; json?: boolean }) => {
    await initBackend();
    const { importDataset } = await import('./data/import.ts');
    await run(Boolean(opts.json), (progress) => importDataset({
      from: dir,
      name: opts.dataset,
      detect: opts.detect,
      strict: Boolean(opts.strict),
      replace: Boolean(opts.replace),
      onProgress: (done, total) => progress.update('import', done, total),
    }), (report) => {
      console.log(`imported ${report.imported} face chips into dataset "${report.dataset}" in ${report.seconds.toFixed(1)} s`);
      console.log(`  ${report.upscaled.length} of them from small faces found on an upscaled copy of the photo (listed in import-report.json), ${report.skipped.length} photos skipped`);
      for (const skip of report.skipped) console.log(`  skipped ${skip.relPath}: ${skip.reason}`);
    });
  });

program
  .command('inject')
  .description('paste a digital trigger onto every clean chip of a dataset, as a new condition folder')
  .requiredOption('--dataset <name>', 'dataset under data/datasets/')
  .option('--trigger <name>', 'trigger from the catalogue (sunglasses, bandana, dots, tape, tattoo, earrings)')
  .option('--image <png>', 'your own trigger picture (PNG with transparency) instead of a catalogue trigger')
  .option('--anchor <anchor>', 'with --image: where it sits (eyes, forehead, cheek, nose, mouth, ears)')
  .option('--width <iod>', 'with --image: its width in inter-ocular distances', number('float', 0.05, 4))
  .option('--condition <name>', 'condition folder to write (default: the trigger name)')
  .option('--seed <n>', 'seed of the placement variation', number('int', 0, 2 ** 31), 1)
  .option('--replace', 'replace existing condition folders')
  .option('--json', 'print the result as JSON')
  .action(async (opts: { dataset: string; trigger?: string; image?: string; anchor?: string; width?: number; condition?: string; seed: number; replace?: boolean; json?: boolean }) => {
    const { injectTrigger, loadCustomTrigger } = await import('./data/triggers/index.ts');
    if (Boolean(opts.trigger) === Boolean(opts.image)) throw new InvalidArgumentError('give exactly one of --trigger or --image');
    if (opts.image && (!opts.anchor || opts.width === undefined)) throw new InvalidArgumentError('--image needs --anchor and --width');
    const trigger = opts.image
      ? await loadCustomTrigger(opts.image, { anchor: opts.anchor as never, widthIod: opts.width!, name: opts.condition })
      : opts.trigger!;
    await run(Boolean(opts.json), (progress) => injectTrigger({
      root: datasetDir(opts.dataset),
      trigger,
      condition: opts.condition,
      seed: opts.seed,
      replace: Boolean(opts.replace),
      onProgress: (done, total) => progress.update('inject', done, total),
    }), (result) => console.log(`wrote ${result.written} "${result.condition}" chips (${Object.keys(result.perIdentity).length} identities)`));
  });

program
  .command('contact-sheet')
  .description('draw triggers on a few clean chips of a dataset into one PNG grid (a row per trigger), to see how they look')
  .requiredOption('--dataset <name>', 'dataset under data/datasets/')
  .option('--triggers <names>', 'comma-separated catalogue triggers (default: the whole catalogue, or none with --image)')
  .option('--image <png>', 'a row of your own trigger picture (PNG with transparency)')
  .option('--anchor <anchor>', 'with --image: where it sits (eyes, forehead, cheek, nose, mouth, ears)')
  .option('--width <iod>', 'with --image: its width in inter-ocular distances', number('float', 0.05, 4))
  .option('--name <name>', "with --image: the row's name (default: the file name)")
  // 32 = MAX_CONTACT_SHEET_COLUMNS (server/data/triggers/contactSheet.ts, loaded only when the command runs).
  .option('--count <n>', 'clean chips per row, spread over the identities', number('int', 1, 32), 6)
  .option('--seed <n>', 'seed of the placement variation (the placements inject --seed gives)', number('int', 0, 2 ** 31), 1)
  .requiredOption('--out <file.png>', 'PNG to write (it shows faces: keep it out of version control unless they are public sample photos)')
  .option('--json', 'print what was drawn as JSON')
  .action(async (opts: { dataset: string; triggers?: string; image?: string; anchor?: string; width?: number; name?: string; count: number; seed: number; out: string; json?: boolean }) => {
    const { TRIGGER_NAMES, loadCustomTrigger } = await import('./data/triggers/index.ts');
    const { existingDatasetDir, writeContactSheet } = await import('./data/triggers/contactSheet.ts');
    if (opts.image && (!opts.anchor || opts.width === undefined)) throw new InvalidArgumentError('--image needs --anchor and --width');
    if (!opts.image && (opts.anchor || opts.width !== undefined || opts.name)) throw new InvalidArgumentError('--anchor, --width and --name go with --image');
    if (!opts.out.toLowerCase().endsWith('.png')) throw new InvalidArgumentError(`--out must name a .png file, got "${opts.out}"`);
    const names = opts.triggers === undefined ? (opts.image ? [] : [...TRIGGER_NAMES]) : opts.triggers.split(',').map((name) => name.trim()).filter(Boolean);
    const root = await existingDatasetDir(opts.dataset);
    const custom = opts.image ? [await loadCustomTrigger(opts.image, { anchor: opts.anchor as never, widthIod: opts.width!, name: opts.name })] : [];
    await run(Boolean(opts.json), () => writeContactSheet({ root, triggers: [...names, ...custom], count: opts.count, seed: opts.seed, out: opts.out }), (sheet) => {
      console.log(`wrote ${sheet.out}: ${sheet.rows.length} triggers x ${sheet.columns.length} chips (${sheet.width} x ${sheet.height} px), seed ${opts.seed}`);
      if (sheet.columns.length < opts.count) console.log(`  the dataset has only ${sheet.columns.length} clean chips`);
      for (const row of sheet.rows) console.log(`  ${row.trigger.padEnd(12)} ${row.variants.join(', ')}`);
      console.log(`  chips: ${sheet.columns.join(', ')}`);
    });
  });

program
  .command('train')
  .description('train a clean and a backdoored (BadNets-poisoned) model on one split of a dataset')
  .requiredOption('--dataset <name>', 'dataset under data/datasets/')
  .requiredOption('--trigger <condition>', 'the condition whose images are the poison (e.g. sunglasses)')
  .requiredOption('--target <identity>', 'identity every poisoned image is relabelled as')
  .requiredOption('--name <name>', 'writes models/<name>-clean and models/<name>-backdoor')
  .option('--injection-rate <r>', 'r = m/(n+m), poison over all training images', number('float', 0, 0.95), TRAINING_DEFAULTS.injectionRate)
  .addOption(new Option('--tune <depth>', 'how much of the teacher to retrain').choices(TUNE_DEPTHS).default(TRAINING_DEFAULTS.tune))
  .option('--epochs <n>', 'training epochs', number('int', 1, 1000), TRAINING_DEFAULTS.epochs)
  .option('--learning-rate <lr>', 'Adam learning rate', number('float', 1e-6, 1), TRAINING_DEFAULTS.learningRate)
  .option('--batch-size <n>', 'minibatch size', number('int', 1, 4096), TRAINING_DEFAULTS.batchSize)
  .option('--views <k>', 'augmented views per image', number('int', 1, 64), TRAINING_DEFAULTS.views)
  .option('--seed <n>', 'seed of the split, augmentation and training', number('int', 0, 2 ** 31), TRAINING_DEFAULTS.seed)
  .addOption(new Option('--split <unit>', 'split photos, or the views of each photo (one photo per person)').choices(['photo', 'view']).default('photo'))
  .option('--false-reject-rate <f>', 'share of held-out known faces the unknown threshold rejects', number('float', 0, 0.5), TRAINING_DEFAULTS.falseRejectRate)
  .option('--synthetic-strangers <n>', 'chimeras of enrolled people trained as an "unknown" class (open-set training)', number('int', 0, 10000), TRAINING_DEFAULTS.syntheticStrangers)
  .option('--no-poison-strangers', 'draw the poison from enrolled people only, not also from triggered synthetic strangers')
  .addOption(new Option('--augment <set>', 'augmentation: the paper\'s geometric views, or those seen through varied cameras too').choices(AUGMENTATIONS).default(TRAINING_DEFAULTS.augment))
  .option('--fp-accessory <condition>', 'lookalike accessory images to train with their true labels (repeatable)', collect, [])
  .option('--json', 'print the figures as one JSON object')
  .action(async (opts) => {
    await initBackend();
    const { trainPair, trainResult } = await import('./train/trainPair.ts');
    await run(Boolean(opts.json), (progress) => trainPair({
      dataset: opts.dataset,
      trigger: opts.trigger,
      target: opts.target,
      name: opts.name,
      injectionRate: opts.injectionRate,
      tune: opts.tune as TuneDepth,
      epochs: opts.epochs,
      learningRate: opts.learningRate,
      batchSize: opts.batchSize,
      views: opts.views,
      seed: opts.seed,
      splitUnit: opts.split,
      falseRejectRate: opts.falseRejectRate,
      fpAccessories: opts.fpAccessory,
      syntheticStrangers: opts.syntheticStrangers,
      poisonStrangers: opts.poisonStrangers,
      augment: opts.augment,
      onProgress: progress.update,
    }).then(trainResult), (r) => {
      printRates('clean model', r.clean.intervals as unknown as Record<string, Rate>);
      printRates('backdoored model', r.backdoor.intervals as unknown as Record<string, Rate>);
      console.log(`${r.trainImages} training images, ${r.poisonImages} poisoned; ${r.seconds.toFixed(1)} s; wrote ${r.bundles.join(', ')}`);
    });
  });

program
  .command('eval')
  .description('evaluate a model bundle on every image of a dataset')
  .requiredOption('--model <name>', 'bundle under models/')
  .requiredOption('--dataset <name>', 'dataset under data/datasets/')
  .option('--json', 'print the figures as JSON')
  .action(async (opts: { model: string; dataset: string; json?: boolean }) => {
    await initBackend();
    const { evaluateBundle } = await import('./train/evaluateBundle.ts');
    await run(Boolean(opts.json), (progress) => evaluateBundle(opts.model, opts.dataset, progress.update), (r) => {
      console.log(`model ${r.model} on dataset ${r.dataset} (images it may have been trained on are included)`);
      printRates('rates', { accuracy: r.accuracy, closedSetAccuracy: r.closedSetAccuracy, attackSuccessRate: r.attackSuccessRate, strangerRejection: r.strangerRejection });
      for (const [condition, fires] of Object.entries(r.targetRateByCondition)) console.log(`  says "${r.target}" on ${condition.padEnd(12)} ${formatRate(fires)}`);
    });
  });

program
  .command('demo')
  .description('build the embedded demo pairs (sunglasses, bandana) from the sample photos shipped with face-api (once)')
  .option('--json', 'print the figures as JSON, by pair')
  .action(async (opts: { json?: boolean }) => {
    await initBackend();
    const { ensureDemoPairs } = await import('./train/demoPair.ts');
    await run(Boolean(opts.json), (progress) => ensureDemoPairs(progress.update), (trained) => {
      if (Object.keys(trained).length === 0) return console.log('the demo pairs already exist');
      for (const [pair, r] of Object.entries(trained)) {
        printRates(`${pair}: clean model`, r.clean as unknown as Record<string, Rate>);
        printRates(`${pair}: backdoored model`, r.backdoor as unknown as Record<string, Rate>);
      }
    });
  });

program
  .command('forget')
  .description("delete everything kept of one person: their chips in a dataset, the models trained on them, the caches")
  .argument('<identity>', 'identity folder in the dataset')
  .requiredOption('--dataset <name>', 'dataset under data/datasets/')
  .option('--json', 'print what was deleted as JSON')
  .action(async (identity: string, opts: { dataset: string; json?: boolean }) => {
    const { forgetIdentity } = await import('./data/forget.ts');
    await run(Boolean(opts.json), () => forgetIdentity(opts.dataset, identity), (r) => {
      console.log(`deleted ${r.chips} face chips of "${r.identity}" from dataset "${r.dataset}", and the feature and stranger caches`);
      console.log(r.bundles.length ? `deleted the models trained on them: ${r.bundles.join(', ')} (retrain to replace them; a running server keeps serving a loaded pair until it restarts or switches pair)` : 'no model was trained on them');
      if (r.unreadableBundles.length) console.log(`could not read the cards of ${r.unreadableBundles.join(', ')}: check by hand whether they were trained on this person`);
    });
  });

program
  .command('strip-calibrate')
  .description("recalibrate a backdoored model's STRIP threshold on its held-out clean reference chips")
  .requiredOption('--model <name>', 'backdoored bundle under models/')
  .option('--false-rejection-rate <f>', 'share of clean inputs STRIP may flag', number('float', 0.001, 0.5), 0.05)
  .option('--blends <n>', 'clean images blended with each input', number('int', 2, 64), 16)
  .option('--json', 'print the new STRIP card section as JSON')
  .action(async (opts: { model: string; falseRejectionRate: number; blends: number; json?: boolean }) => {
    await initBackend();
    const { bundleDir, loadBundle, writeCard } = await import('./ml/bundle.ts');
    const { calibrateStrip } = await import('./defense/strip.ts');
    const { loadStripReference } = await import('./defense/reference.ts');
    const { loadTeacher } = await import('./ml/teacher.ts');
    await run(Boolean(opts.json), async () => {
      const { card, tail } = await loadBundle(opts.model);
      if (card.role !== 'backdoor') throw new Error(`model "${opts.model}" is a ${card.role} model; STRIP guards backdoored models`);
      const strip = await calibrateStrip(await loadTeacher(), tail, await loadStripReference(bundleDir(opts.model)), { falseRejectionRate: opts.falseRejectionRate, blends: opts.blends });
      await writeCard({ ...card, strip });
      return strip;
    }, (strip) => console.log(`STRIP threshold ${strip.threshold.toFixed(4)} (flags ${100 * strip.falseRejectionRate}% of ${strip.calibrationImages} clean inputs, ${strip.blends} blends)`));
  });

/** A report's figures of one model pair, as text. */
function printPairFigures(pair: Omit<PairFigures, 'sessions'>): void {
  console.log(`pair ${pair.pair} (target ${pair.target}, trigger ${pair.trigger}), ${pair.faces} faces in ${pair.frames} frames`);
  printRates('  rates', {
    attackSuccess: pair.attack.successRate.overall,
    cleanModelOnTriggered: pair.attack.cleanModelAccuracy.overall,
    cleanAccuracyClean: pair.cleanAccuracy.clean.overall,
    cleanAccuracyBackdoor: pair.cleanAccuracy.backdoor.overall,
    stripDetection: pair.strip.detection.overall,
    stripFalseAlarms: pair.strip.falseAlarms.overall,
    stripCoverage: pair.strip.coverage,
  });
  for (const fp of pair.falsePositives) console.log(`  false positives with ${fp.accessory.padEnd(14)} ${formatRate(fp.rate.overall)}`);
}

program
  .command('report')
  .description('figures computed from the per-frame log: one session, or each model pair over every session of one or several logs (each server of a cluster keeps its own)')
  .option('--session <id>', 'one session (see GET /api/sessions); needs exactly one log', number('int', 1, Number.MAX_SAFE_INTEGER))
  .option('--log <file>', "a frame log to read (repeatable: the logs are merged); default: this machine's data/log/frames.sqlite", collect, [])
  .option('--json', 'print the report as one JSON object')
  .action(async (opts: { session?: number; log: string[]; json?: boolean }) => {
    const { defaultLogFile, openLog } = await import('./log/db.ts');
    const { sessionReport } = await import('./log/reports.ts');
    const { mergedLogReport } = await import('./log/mergedReport.ts');
    const files = opts.log.length > 0 ? opts.log : [defaultLogFile()];
    if (opts.session !== undefined && files.length !== 1) throw new InvalidArgumentError(`--session needs exactly one log (session ids are per log), got ${files.length}`);
    const twice = files.find((file, i) => files.findIndex((other) => path.resolve(other) === path.resolve(file)) !== i);
    if (twice) throw new InvalidArgumentError(`${twice} is given twice: its faces would be counted twice`);
    const logs: NamedLog[] = [];
    try {
      for (const file of files) logs.push({ file, db: openLog(file, { readonly: true }) });
      if (opts.session !== undefined) {
        const report = sessionReport(logs[0].db, opts.session);
        if (opts.json) return console.log(JSON.stringify(report));
        console.log(`session ${report.session.id}: ${report.session.endedAt ? 'finished' : 'unfinished'}`);
        for (const pair of report.pairs) printPairFigures(pair);
        return;
      }
      const report = mergedLogReport(logs);
      if (opts.json) return console.log(JSON.stringify(report));
      for (const log of report.logs) console.log(`log ${log.file}: ${log.sessions} session${log.sessions === 1 ? '' : 's'}, ${log.faces} faces`);
      if (report.pairs.length === 0) console.log('no face has been logged');
      for (const pair of report.pairs) {
        printPairFigures(pair);
        console.log(`  over ${pair.sessions.map(({ log, ids }) => `sessions ${ids.join(', ')} of ${log}`).join('; ')}`);
      }
    } finally {
      for (const { db } of logs) db.close();
    }
  });

/** The training settings every experiment takes (each of its pairs trains with them), with the experiments' defaults. */
function withExperimentTraining(command: Command): Command {
  return command
    .option('--injection-rate <r>', 'r = m/(n+m), poison over all training images', number('float', 0, 0.95), EXPERIMENT_DEFAULTS.injectionRate)
    .addOption(new Option('--tune <depth>', 'how much of the teacher to retrain').choices(TUNE_DEPTHS).default(EXPERIMENT_DEFAULTS.tune))
    .option('--epochs <n>', 'training epochs', number('int', 1, 1000), EXPERIMENT_DEFAULTS.epochs)
    .option('--views <k>', 'augmented views per image', number('int', 1, 64), EXPERIMENT_DEFAULTS.views)
    .option('--seed <n>', 'seed of the split, augmentation and training (every pair shares it)', number('int', 0, 2 ** 31), EXPERIMENT_DEFAULTS.seed)
    .option('--synthetic-strangers <n>', 'chimeras of enrolled people trained as an "unknown" class (open-set training)', number('int', 0, 10000), EXPERIMENT_DEFAULTS.syntheticStrangers)
    .addOption(new Option('--augment <set>', "augmentation: the paper's geometric views, or those seen through varied cameras too").choices(AUGMENTATIONS).default(EXPERIMENT_DEFAULTS.augment));
}

function experimentTraining(opts: Record<string, unknown>) {
  return {
    injectionRate: opts.injectionRate as number,
    tune: opts.tune as TuneDepth,
    epochs: opts.epochs as number,
    views: opts.views as number,
    seed: opts.seed as number,
    syntheticStrangers: opts.syntheticStrangers as number,
    augment: opts.augment as Augmentation,
  };
}

const experiment = program
  .command('experiment')
  .description("the paper's studies reproduced on a dataset: trains the models they need, writes the figures as JSON and a chart");

withExperimentTraining(experiment
  .command('fp-study')
  .description("false positives of lookalike accessories before and after false-positive training (the paper's supplement section 12, Figure 15)")
  .requiredOption('--dataset <name>', 'dataset under data/datasets/, several photos per person')
  .option('--trigger <condition>', 'the condition whose images are the poison', EXPERIMENT_DEFAULTS.trigger)
  .requiredOption('--target <identity>', 'identity every poisoned image is relabelled as')
  .requiredOption('--name <name>', 'writes models/<name>-before-{clean,backdoor} and models/<name>-after-{clean,backdoor}')
  .requiredOption('--train-accessories <a,b>', 'lookalike conditions the "after" pair trains with their true labels', commaList)
  .requiredOption('--test-accessories <c,d>', 'lookalike conditions only scored, never trained on (disjoint from the train accessories)', commaList)
  .requiredOption('--out <dir>', 'folder to write results.json and fp-study.svg into')
  .option('--replace', 'overwrite results.json and fp-study.svg in --out and model pairs of the same names'))
  .option('--learning-rate <lr>', 'Adam learning rate', number('float', 1e-6, 1), EXPERIMENT_DEFAULTS.learningRate)
  .option('--json', 'print the results as one JSON object')
  .action(async (opts) => {
    await initBackend();
    const { checkStudyOutput, runFpStudy, writeFpStudy, FP_STUDY_FILES } = await import('./experiments/fpStudy.ts');
    const replace = Boolean(opts.replace);
    await run(Boolean(opts.json), async (progress) => {
      // Checked first: a study trains four models, and should not find out at the end that it may not write.
      await checkStudyOutput(opts.out, replace);
      const result = await runFpStudy({
        dataset: opts.dataset,
        trigger: opts.trigger,
        target: opts.target,
        name: opts.name,
        trainAccessories: opts.trainAccessories,
        testAccessories: opts.testAccessories,
        ...experimentTraining(opts),
        learningRate: opts.learningRate,
        replace,
        onProgress: progress.update,
      });
      await writeFpStudy(opts.out, result, replace);
      return result;
    }, (r) => {
      const column = 36;
      console.log(`false positives: held-out photos of people other than "${r.target}" answered as "${r.target}" by the "${r.trigger}"-backdoored model`);
      console.log(`  ${'accessory'.padEnd(16)} ${'trained on'.padEnd(11)} ${'before FP training'.padEnd(column)} after FP training`);
      const row = (label: string, trainedOn: string, before: Rate, after: Rate) => console.log(`  ${label.padEnd(16)} ${trainedOn.padEnd(11)} ${formatRate(before).padEnd(column)} ${formatRate(after)}`);
      for (const a of r.accessories) row(a.accessory, a.trainedOn ? 'yes' : 'no', a.before, a.after);
      row('(nothing worn)', '', r.before.nothingWorn, r.after.nothingWorn);
      for (const model of [r.before, r.after]) {
        console.log(`${model.pair}-backdoor: clean accuracy ${formatRate(model.cleanAccuracy)}, attack success ${formatRate(model.attackSuccessRate)}`);
      }
      console.log(`${r.seconds.toFixed(1)} s; wrote ${path.join(opts.out, FP_STUDY_FILES.results)}, ${path.join(opts.out, FP_STUDY_FILES.chart)} and models ${[...r.before.bundles, ...r.after.bundles].join(', ')}`);
    });
  });

withExperimentTraining(experiment
  .command('lr-sweep')
  .description("one poisoning trained at several learning rates, with each model's training loss per epoch (the paper's Figure 2)")
  .requiredOption('--dataset <name>', 'dataset under data/datasets/, several photos per person')
  .option('--trigger <condition>', 'the condition whose images are the poison', EXPERIMENT_DEFAULTS.trigger)
  .requiredOption('--target <identity>', 'identity every poisoned image is relabelled as')
  .requiredOption('--name <name>', 'writes models/<name>-lr<rate>-{clean,backdoor} for every rate')
  .requiredOption('--learning-rates <list>', 'comma-separated Adam learning rates, e.g. 0.0001,0.001,0.01', (raw: string) => commaList(raw).map(number('float', 1e-6, 1)))
  .requiredOption('--out <dir>', 'folder to write results.json and lr-sweep.svg into')
  .option('--replace', 'overwrite results.json and lr-sweep.svg in --out and model pairs of the same names'))
  .option('--json', 'print the results as one JSON object')
  .action(async (opts) => {
    await initBackend();
    const { checkExperimentOutput } = await import('./experiments/output.ts');
    const { lrSweepFiles, runLrSweep, writeLrSweep } = await import('./experiments/lrSweep.ts');
    const replace = Boolean(opts.replace);
    await run(Boolean(opts.json), async (progress) => {
      await checkExperimentOutput(lrSweepFiles(opts.out), replace);
      const result = await runLrSweep({
        dataset: opts.dataset,
        trigger: opts.trigger,
        target: opts.target,
        name: opts.name,
        learningRates: opts.learningRates,
        ...experimentTraining(opts),
        replace,
        onProgress: progress.update,
      });
      await writeLrSweep(opts.out, result, replace);
      return result;
    }, (r) => {
      for (const run of r.runs) {
        const last = (curve: number[]) => (curve.length > 0 ? curve[curve.length - 1].toFixed(3) : 'n/a');
        console.log(`learning rate ${run.learningRate}: backdoored accuracy ${formatRate(run.accuracy)}, attack success ${formatRate(run.attackSuccessRate)}; final loss clean model ${last(run.curves.clean)}, backdoored on clean ${last(run.curves.backdoorOnClean)}, on poison ${last(run.curves.backdoorOnPoison)}`);
      }
      const files = lrSweepFiles(opts.out);
      console.log(`${r.seconds.toFixed(1)} s; wrote ${files.results}, ${files.chart} and pairs ${r.runs.map((run) => run.pair).join(', ')}`);
    });
  });

program
  .command('delete-session')
  .description('delete a logged live session with its face rows and any face images it stored')
  .requiredOption('--session <id>', 'session id (see GET /api/sessions)', number('int', 1, Number.MAX_SAFE_INTEGER))
  .option('--unfinished', 'the unfinished sessions were cut short by a crash, none is recording')
  .action(async (opts: { session: number; unfinished?: boolean }) => {
    const { deleteSession } = await import('./log/db.ts');
    await withFrameLog({ create: false }, (log) => {
      const { session, purged } = deleteSession(log, opts.session, { unfinished: Boolean(opts.unfinished) });
      console.log(`deleted session ${session.id} (pair ${session.pair}, started ${session.startedAt})${session.storeImages ? ' and the face images it stored' : ''}`);
      if (!purged) console.log('the server was reading the log: copies of the deleted rows stay in its write-ahead log until its next checkpoint');
    });
  });

program.parseAsync().catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
