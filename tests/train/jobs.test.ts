import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus, TrainRequestInput } from '../../shared/api.ts';
import { trainRequestSchema } from '../../shared/api.ts';
import { initBackend } from '../../server/ml/backend.ts';
import { listBundles, readCard } from '../../server/ml/bundle.ts';
import { TrainingJobs } from '../../server/train/jobs.ts';
import { FACES94, faces94Dataset } from './faces94Dataset.ts';

const PEOPLE = 4;
const PHOTOS = 8;

let scratch: string;
let jobsDir: string;

/** Every file under models/ with the hash of its bytes: what a cancelled job must leave as it was. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, file)] = createHash('sha256').update(await readFile(file)).digest('hex');
  }
  return files;
}

function until(jobs: TrainingJobs, id: string, done: (status: JobStatus) => boolean, timeoutMs = 300_000): Promise<JobStatus> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`job ${id} stayed ${jobs.get(id).state} (${jobs.get(id).phase})`)), timeoutMs);
    const check = (status: JobStatus) => {
      if (status.id !== id || !done(status)) return;
      clearTimeout(timer);
      off();
      resolve(status);
    };
    const off = jobs.onChange(check);
    check(jobs.get(id));
  });
}

const request = (input: Partial<TrainRequestInput>) => trainRequestSchema.parse({
  dataset: 'volunteers', trigger: 'bandana', target: 'p0', name: 'room', epochs: 3, views: 2, syntheticStrangers: 4, tune: 'head', ...input,
});
const training = (input: Partial<TrainRequestInput>) => ({ kind: 'train' as const, request: request(input) });

describe.skipIf(!existsSync(FACES94))('training jobs (worker thread, faces94 people with a pasted bandana)', () => {
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'jobs-'));
    process.env.DATA_DIR = path.join(scratch, 'data');
    process.env.MODELS_DIR = path.join(scratch, 'models');
    jobsDir = path.join(scratch, 'data', 'jobs');
    await initBackend();
    await faces94Dataset({ name: 'volunteers', people: PEOPLE, photos: PHOTOS, paste: ['bandana', 'headband', 'cap', 'eyeglasses'], scratch });
    // A pair that was there before the jobs: it must be left alone by everything below.
    await mkdir(path.join(scratch, 'models', 'earlier-clean'), { recursive: true });
    await writeFile(path.join(scratch, 'models', 'earlier-clean', 'card.json'), '{"kept": true}\n');
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('trains a pair in a worker: progress per epoch, curves of both models, confusion matrices, cards written', async () => {
    const jobs = await TrainingJobs.open(jobsDir);
    const seen: JobStatus[] = [];
    jobs.onChange((status) => seen.push(structuredClone(status)));
    const { id } = await jobs.submit(training({}));
    const done = await until(jobs, id, (s) => s.state === 'done' || s.state === 'failed');
    expect(done.error).toBeUndefined();
    expect(done.state).toBe('done');
    expect(seen.some((s) => s.state === 'running' && s.phase === 'train backdoor' && s.epoch >= 1 && s.loss.backdoor !== undefined)).toBe(true);
    const result = done.result!;
    expect(result.curves.clean).toHaveLength(3);
    expect(result.curves.backdoorOnClean).toHaveLength(3);
    expect(result.curves.backdoorOnPoison).toHaveLength(3);
    expect(result.poisonImages).toBeGreaterThan(0);
    const confusion = result.backdoor.confusion;
    expect(confusion.labels).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect(confusion.predicted).toEqual(['p0', 'p1', 'p2', 'p3', 'unknown']);
    expect(confusion.counts.flat().reduce((a, b) => a + b, 0)).toBe(result.backdoor.intervals.accuracy.total);
    expect(await readCard('room-backdoor')).toMatchObject({ trigger: 'bandana', target: 'p0', role: 'backdoor' });
    // The job is on disk as it ended, for a page opened later.
    expect(JSON.parse(await readFile(path.join(jobsDir, `${id}.json`), 'utf8'))).toMatchObject({ state: 'done', result: { bundles: expect.any(Array) } });
    await expect(jobs.submit(training({}))).rejects.toThrow(/pair named "room" exists/);
    await expect(jobs.submit(training({ target: 'nobody', name: 'other' }))).rejects.toThrow(/no identity "nobody"/);
    await expect(jobs.submit(training({ trigger: 'sunglasses', name: 'other' }))).rejects.toThrow(/no "sunglasses" photos/);
  });

  it('runs a false-positive study in a worker: both pairs trained, every accessory scored before and after', async () => {
    const jobs = await TrainingJobs.open(jobsDir);
    const { fpAccessories: _none, ...settings } = request({ name: 'study', epochs: 2, views: 1, syntheticStrangers: 0 });
    const { id } = await jobs.submit({ kind: 'fp-study', request: { ...settings, trainAccessories: ['headband'], testAccessories: ['cap', 'eyeglasses'] } });
    const done = await until(jobs, id, (s) => s.state === 'done' || s.state === 'failed');
    expect(done.error).toBeUndefined();
    expect(done.study!.accessories.map((a) => [a.accessory, a.trainedOn])).toEqual([['headband', true], ['cap', false], ['eyeglasses', false]]);
    expect(done.study!.after.fpAccessories).toEqual(['headband']);
    expect(await listBundles()).toEqual(expect.arrayContaining(['study-before-backdoor', 'study-after-backdoor']));
  });

  it('cancels within 2 seconds and leaves models/ byte for byte as it was', async () => {
    const jobs = await TrainingJobs.open(jobsDir);
    const before = await snapshot(path.join(scratch, 'models'));
    const { id } = await jobs.submit(training({ name: 'cancelled', epochs: 200 }));
    await until(jobs, id, (s) => s.phase === 'train clean' && s.epoch >= 2);
    const asked = performance.now();
    const status = await jobs.cancel(id);
    expect(performance.now() - asked).toBeLessThan(2000);
    expect(status.state).toBe('cancelled');
    expect(await snapshot(path.join(scratch, 'models'))).toEqual(before);
    expect(JSON.parse(await readFile(path.join(jobsDir, `${id}.json`), 'utf8')).state).toBe('cancelled');
  });

  it('marks a job the server was running when it stopped as failed, and removes what it had half written', async () => {
    const id = 'interrupted';
    const stale: JobStatus = {
      id, kind: 'train', state: 'running', request: request({ name: 'halfway' }), phase: 'train backdoor', done: 2, total: 3, epoch: 2, epochs: 3, loss: {}, createdAt: new Date().toISOString(),
    };
    await writeFile(path.join(jobsDir, `${id}.json`), JSON.stringify(stale));
    await writeFile(path.join(jobsDir, 'damaged.json'), '{"id": "damaged", "sta');
    await mkdir(path.join(scratch, 'models', 'halfway-clean'), { recursive: true });
    await mkdir(path.join(scratch, 'models', `halfway-backdoor.tmp-${process.pid}`), { recursive: true });
    const jobs = await TrainingJobs.open(jobsDir);
    expect(jobs.get(id)).toMatchObject({ state: 'failed', error: expect.stringMatching(/server stopped/) });
    expect(() => jobs.get('damaged')).toThrow(/no training job "damaged"/);
    expect(await readdir(path.join(scratch, 'models'))).not.toEqual(expect.arrayContaining(['halfway-clean']));
    expect((await readdir(path.join(scratch, 'models'))).filter((entry) => entry.startsWith('halfway'))).toEqual([]);
    expect(await listBundles()).toEqual(expect.arrayContaining(['earlier-clean', 'room-backdoor', 'room-clean']));
  });
});
