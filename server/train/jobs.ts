import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FpStudyRequest, JobStatus, SplitPreview, TrainRequest, TrainResult } from '../../shared/api.ts';
import type { FpStudyResult } from '../../shared/experiments.ts';
import { CLEAN } from '../../shared/names.ts';
import { dataDir, datasetDir, modelsDir } from '../config.ts';
import { scanDataset } from '../data/dataset.ts';
import { ConflictError, InvalidRequestError, NotFoundError } from '../errors.ts';
import { exists, writeFileAtomically } from '../files.ts';
import { checkFpStudy, pairName, type FpStudyOptions } from '../experiments/fpStudy.ts';
import { listBundles } from '../ml/bundle.ts';
import { UNEXPOSED_SETTINGS } from './defaults.ts';
import { previewSplit, type TrainPairOptions } from './trainPair.ts';

export type JobRequest = { kind: 'train'; request: TrainRequest } | { kind: 'fp-study'; request: FpStudyRequest };
export type TrainWorkerData = JobRequest & { entry: string };

export type TrainWorkerMessage =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'epoch'; role: 'clean' | 'backdoor'; epoch: number; loss: number }
  | { type: 'done'; result?: TrainResult; study?: FpStudyResult }
  | { type: 'failed'; message: string };

/** A page's training request with the engine's defaults for what the page does not set. */
export function trainPairOptions(request: TrainRequest): TrainPairOptions {
  return {
    ...request,
    ...UNEXPOSED_SETTINGS,
    notes: ['Trained from the Train page.'],
  };
}

/** A page's study request with the engine's defaults for what the page does not set. */
export function fpStudyOptions(request: FpStudyRequest): FpStudyOptions {
  return { ...request, replace: false };
}


/** Checks a request against the dataset before anything runs: every name it gives must exist there. */
async function checkAgainstDataset(request: TrainRequest): Promise<void> {
  const root = datasetDir(request.dataset);
  if (!(await exists(root))) throw new NotFoundError(`no dataset named "${request.dataset}"`);
  const dataset = await scanDataset(root);
  if (!dataset.identities.includes(request.target)) throw new InvalidRequestError(`dataset "${request.dataset}" has no identity "${request.target}" to be the target (it has ${dataset.identities.join(', ') || 'none'})`);
  const conditions = new Set(dataset.images.map((image) => image.condition));
  if (request.trigger === CLEAN) throw new InvalidRequestError('the trigger must be a worn object, not "clean"');
  if (!dataset.images.some((image) => image.condition === request.trigger && image.identity !== request.target)) {
    throw new InvalidRequestError(`dataset "${request.dataset}" has no "${request.trigger}" photos of anyone but the target: capture or paste the trigger first`);
  }
  for (const accessory of request.fpAccessories) {
    if (accessory === request.trigger || accessory === CLEAN) throw new InvalidRequestError(`lookalike "${accessory}" must be another worn object than the trigger`);
    if (!conditions.has(accessory)) throw new InvalidRequestError(`dataset "${request.dataset}" has no "${accessory}" photos to train as a lookalike`);
  }
}

/**
 * Draws the split a job would train on, so that a dataset too small for the request (too few photos
 * to poison at that rate, to hold out...) is refused before the job is queued, not after it started.
 */
async function checkSplit(options: TrainPairOptions): Promise<void> {
  try {
    await previewSplit(options);
  } catch (error) {
    // The split's own arithmetic throws plain errors that name what the dataset lacks.
    if (error instanceof Error && error.constructor === Error) throw new InvalidRequestError(error.message);
    throw error;
  }
}

/** The split a request would train on, checked as a job would be. */
export async function previewTraining(request: TrainRequest): Promise<SplitPreview> {
  await checkAgainstDataset(request);
  return previewSplit(trainPairOptions(request));
}

const ACTIVE_STATES = new Set(['queued', 'running']);
/** Progress is saved to disk at most this often; every change still reaches the listeners. */
const SAVE_EVERY_MS = 2000;

/** Where a job's share of the overall work starts and ends, for the ETA. */
function overallFraction(status: JobStatus): number {
  // A study trains two pairs one after the other, each phase prefixed with the pair's "before: "/"after: ".
  const [pairPhase, phase] = status.kind === 'fp-study' ? (/^(before|after): (.*)$/.exec(status.phase)?.slice(1) ?? ['before', '']) : ['', status.phase];
  const done = status.total ? status.done / status.total : 0;
  const ofOnePair = phase === 'features' ? 0.4 * done
    : phase === 'train clean' ? 0.4 + 0.3 * done
    : phase === 'train backdoor' ? 0.7 + 0.28 * done
    : phase === 'STRIP calibration' || phase.startsWith('score') ? 0.98 : 0;
  return status.kind === 'fp-study' ? (pairPhase === 'after' ? 0.5 : 0) + ofOnePair / 2 : ofOnePair;
}

/** The model pairs a job writes: the one it trains, or a study's before and after pairs. */
function pairsOf(job: Pick<JobStatus, 'kind' | 'request'>): string[] {
  return job.kind === 'fp-study' ? [pairName(job.request.name, 'before'), pairName(job.request.name, 'after')] : [job.request.name];
}

/**
 * Training jobs, one running at a time in a worker thread, queued in order. Each job is a JSON file
 * under `data/jobs/`, so a job outlives the page that started it; a job the server was running when
 * it stopped is marked failed at the next start, and whatever it had begun writing under `models/` is
 * removed. Cancelling stops the worker and leaves `models/` as it was before the job.
 */
export class TrainingJobs {
  readonly #jobs = new Map<string, JobStatus>();
  readonly #listeners = new Set<(status: JobStatus) => void>();
  #running: { id: string; worker: Worker; settled: Promise<void> } | undefined;
  #lastSaved = new Map<string, number>();
  /** Saves of one job happen in order, so an older progress save never lands after the final one. */
  #saving = new Map<string, Promise<void>>();

  private constructor(private readonly dir: string) {}

  static async open(dir = path.join(dataDir(), 'jobs')): Promise<TrainingJobs> {
    await mkdir(dir, { recursive: true });
    const jobs = new TrainingJobs(dir);
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json'))) {
      let status: JobStatus;
      try {
        status = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as JobStatus;
      } catch (error) {
        // One damaged record must not keep the server from starting; the file is left for a person to look at.
        console.error(`skipping training job record ${path.join(dir, file)}: ${(error as Error).message}`);
        continue;
      }
      if (ACTIVE_STATES.has(status.state)) {
        if (status.state === 'running') for (const pair of pairsOf(status)) await removePartialPair(pair);
        Object.assign(status, { state: 'failed', error: 'the server stopped while this job was queued or running', finishedAt: new Date().toISOString() });
        await jobs.#save(status);
      }
      jobs.#jobs.set(status.id, status);
    }
    return jobs;
  }

  onChange(listener: (status: JobStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  list(): JobStatus[] {
    return [...this.#jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  get(id: string): JobStatus {
    const status = this.#jobs.get(id);
    if (!status) throw new NotFoundError(`no training job "${id}"`);
    return status;
  }

  /** Queues a training or a study; refused before anything is written when a name is wrong or taken. */
  async submit(job: JobRequest): Promise<JobStatus> {
    const { request } = job;
    if (job.kind === 'train') {
      await checkAgainstDataset(job.request);
      await checkSplit(trainPairOptions(job.request));
    } else {
      await checkFpStudy(fpStudyOptions(job.request));
      const { trainAccessories, testAccessories: _scoredOnly, ...settings } = job.request;
      await checkSplit(trainPairOptions({ ...settings, fpAccessories: trainAccessories }));
    }
    const bundles = await listBundles();
    const taken = pairsOf(job).filter((pair) => bundles.includes(`${pair}-clean`) || bundles.includes(`${pair}-backdoor`));
    if (taken.length > 0) throw new ConflictError(`a model pair named "${taken[0]}" exists: choose another name or delete it first`);
    const queued = this.list().filter((other) => ACTIVE_STATES.has(other.state)).flatMap((other) => pairsOf(other));
    const clash = pairsOf(job).find((pair) => queued.includes(pair));
    if (clash) throw new ConflictError(`a job that trains "${clash}" is already queued or running`);
    const status: JobStatus = {
      id: randomUUID(),
      kind: job.kind,
      state: 'queued',
      request,
      phase: 'queued',
      done: 0,
      total: 0,
      epoch: 0,
      epochs: request.epochs,
      loss: {},
      createdAt: new Date().toISOString(),
    };
    this.#jobs.set(status.id, status);
    await this.#changed(status, true);
    this.#startNext();
    return status;
  }

  /** Cancels a queued or running job; a finished one is left as it is. */
  async cancel(id: string): Promise<JobStatus> {
    const status = this.get(id);
    if (status.state === 'queued') {
      await this.#finish(status, { state: 'cancelled' });
    } else if (status.state === 'running' && this.#running?.id === id) {
      const { worker, settled } = this.#running;
      status.state = 'cancelled';
      await worker.terminate();
      await settled;
    }
    return status;
  }

  /** Stops a running job (marked failed, its partial output removed) and waits for it. */
  async close(): Promise<void> {
    const running = this.#running;
    if (!running) return;
    const status = this.get(running.id);
    status.error = 'the server stopped while this job ran';
    status.state = 'failed';
    await running.worker.terminate();
    await running.settled;
  }

  #startNext(): void {
    if (this.#running) return;
    const next = this.list().reverse().find((job) => job.state === 'queued');
    if (!next) return;
    const started = Date.now();
    next.state = 'running';
    next.startedAt = new Date(started).toISOString();
    next.phase = 'starting';
    const workerData = { entry: new URL('./trainWorker.ts', import.meta.url).href, kind: next.kind, request: next.request } as TrainWorkerData;
    const worker = new Worker(new URL('../workerBoot.mjs', import.meta.url), { workerData });
    let outcome: { state: 'done'; result?: TrainResult; study?: FpStudyResult } | { state: 'failed'; error: string } | undefined;
    worker.on('message', (message: TrainWorkerMessage) => {
      if (next.state !== 'running') return;
      if (message.type === 'progress') {
        Object.assign(next, { phase: message.phase, done: message.done, total: message.total });
        if (/train (clean|backdoor)$/.test(message.phase)) next.epoch = message.done;
      } else if (message.type === 'epoch') {
        next.loss[message.role] = message.loss;
      } else if (message.type === 'done') {
        outcome = { state: 'done', result: message.result, study: message.study };
        return;
      } else {
        outcome = { state: 'failed', error: message.message };
        return;
      }
      const fraction = overallFraction(next);
      next.etaSeconds = fraction > 0.02 ? Math.round(((Date.now() - started) / 1000) * (1 - fraction) / fraction) : undefined;
      void this.#changed(next, false);
    });
    worker.on('error', (error) => (outcome ??= { state: 'failed', error: error.message }));
    const settled = new Promise<void>((resolve) => worker.once('exit', () => resolve())).then(async () => {
      if (next.state === 'running' && outcome?.state === 'done') {
        await this.#finish(next, { state: 'done', result: outcome.result, study: outcome.study, phase: 'done' });
      } else {
        // Cancelled, stopped, or failed: nothing of this job may stay under models/.
        for (const pair of pairsOf(next)) await removePartialPair(pair);
        const state = next.state === 'running' ? 'failed' : next.state;
        const error = state === 'failed' ? (next.error ?? (outcome?.state === 'failed' ? outcome.error : 'the training worker stopped unexpectedly')) : undefined;
        await this.#finish(next, { state, error });
      }
      this.#running = undefined;
      this.#startNext();
    });
    this.#running = { id: next.id, worker, settled };
    void this.#changed(next, true);
  }

  async #finish(status: JobStatus, change: Partial<JobStatus>): Promise<void> {
    Object.assign(status, change, { finishedAt: new Date().toISOString(), etaSeconds: undefined });
    await this.#changed(status, true);
  }

  /**
   * Tells the listeners and saves the job. A change that must be saved (a new job, a start, an end)
   * is on disk before anyone hears of it, so whoever is told a job ended can read it back.
   */
  async #changed(status: JobStatus, mustSave: boolean): Promise<void> {
    const now = Date.now();
    const save = mustSave || now - (this.#lastSaved.get(status.id) ?? 0) >= SAVE_EVERY_MS;
    if (save) this.#lastSaved.set(status.id, now);
    if (mustSave) await this.#save(status);
    for (const listener of this.#listeners) listener(status);
    if (save && !mustSave) await this.#save(status);
  }

  #save(status: JobStatus): Promise<void> {
    const saved = (this.#saving.get(status.id) ?? Promise.resolve())
      .then(() => writeFileAtomically(path.join(this.dir, `${status.id}.json`), `${JSON.stringify(status, null, 2)}\n`));
    this.#saving.set(status.id, saved.catch(() => undefined));
    return saved;
  }
}

/**
 * Removes what a job that did not finish wrote for pair `name`: staging folders and bundles. A job is
 * only accepted for a name no bundle has, so nothing under that name predates the job.
 */
async function removePartialPair(name: string): Promise<void> {
  const entries = await readdir(modelsDir()).catch(() => [] as string[]);
  const ours = entries.filter((entry) => [`${name}-clean`, `${name}-backdoor`].some((bundle) => entry === bundle || entry.startsWith(`${bundle}.tmp-`)));
  await Promise.all(ours.map((entry) => rm(path.join(modelsDir(), entry), { recursive: true, force: true })));
}
