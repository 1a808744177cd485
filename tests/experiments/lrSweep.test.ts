import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LrSweepResult } from '../../shared/experiments.ts';
import { PROJECT_ROOT } from '../../server/config.ts';
import { initBackend } from '../../server/ml/backend.ts';
import { listBundles } from '../../server/ml/bundle.ts';
import { FACES94, faces94Dataset } from '../train/faces94Dataset.ts';

const runProcess = promisify(execFile);
let scratch: string;

const sweep = (...args: string[]) => runProcess('npx', ['tsx', 'server/cli.ts', 'experiment', 'lr-sweep', '--dataset', 'volunteers', '--target', 'p0', '--name', 'sweep', '--tune', 'head', '--epochs', '3', '--views', '2', '--synthetic-strangers', '2', ...args], { cwd: PROJECT_ROOT, env: process.env });

describe.skipIf(!existsSync(FACES94))('learning-rate sweep (faces94 people, pasted bandana)', () => {
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'lr-sweep-'));
    process.env.DATA_DIR = path.join(scratch, 'data');
    process.env.MODELS_DIR = path.join(scratch, 'models');
    await initBackend();
    await faces94Dataset({ name: 'volunteers', people: 4, photos: 8, paste: ['bandana'], scratch });
  });

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('refuses a rate listed twice or out of range before training anything', async () => {
    await expect(sweep('--learning-rates', '0.01,0.01', '--out', path.join(scratch, 'twice'))).rejects.toThrow(/listed twice/);
    await expect(sweep('--learning-rates', '0.01,5', '--out', path.join(scratch, 'range'))).rejects.toThrow(/from 0.000001 to 1/);
    expect(existsSync(path.join(scratch, 'twice'))).toBe(false);
    expect(await listBundles()).toEqual([]);
  });

  it('trains one pair per rate and writes every curve to results.json and a chart with a panel per rate', async () => {
    const out = path.join(scratch, 'figure-2');
    const { stdout } = await sweep('--learning-rates', '0.01,0.0001', '--out', out, '--json');
    const result = JSON.parse(stdout) as LrSweepResult;
    expect(JSON.parse(await readFile(path.join(out, 'results.json'), 'utf8'))).toEqual(result);
    expect(result.runs.map((run) => [run.learningRate, run.pair])).toEqual([[0.01, 'sweep-lr0.01'], [0.0001, 'sweep-lr0.0001']]);
    for (const run of result.runs) {
      expect(run.curves.clean).toHaveLength(3);
      expect(run.curves.backdoorOnClean).toHaveLength(3);
      expect(run.curves.backdoorOnPoison).toHaveLength(3);
      expect(run.attackSuccessRate.total).toBeGreaterThan(0);
    }
    // Same split, seed and initialisation: only the learning rate differs, and so do the curves.
    expect(result.runs[0].curves.backdoorOnClean[0]).not.toBe(result.runs[1].curves.backdoorOnClean[0]);
    const svg = await readFile(path.join(out, 'lr-sweep.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('learning rate');
    expect(svg).toContain('backdoored model, poison images');
    expect(await listBundles()).toEqual(['sweep-lr0.0001-backdoor', 'sweep-lr0.0001-clean', 'sweep-lr0.01-backdoor', 'sweep-lr0.01-clean']);
    await expect(sweep('--learning-rates', '0.01', '--out', out)).rejects.toThrow(/results.json exists/);
  });
});
