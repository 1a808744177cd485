import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { injectTrigger } from '../../server/data/triggers/index.ts';
import { realFaceChip, type FaceChip } from './realFace.ts';

/** Destinations whose rename should fail, to break injection while it moves files into place. */
const failingRenames = vi.hoisted(() => ({ destinations: [] as RegExp[] }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: async (from: string, to: string) => {
      if (failingRenames.destinations.some((pattern) => pattern.test(to))) throw new Error(`simulated failure moving to ${to}`);
      return fs.rename(from, to);
    },
  };
});

let face: FaceChip;
let root: string;

beforeAll(async () => {
  face = await realFaceChip();
});

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'inject-commit-test-'));
  for (const identity of ['alice', 'bob']) {
    await mkdir(path.join(root, identity, 'clean'), { recursive: true });
    await writeFile(path.join(root, identity, 'clean', 'a.png'), face.chip);
  }
  await writeFile(path.join(root, 'keypoints.json'), '{}\n');
});

afterEach(async () => {
  failingRenames.destinations = [];
  await rm(root, { recursive: true, force: true });
});

/** What a dataset reader sees: hidden entries (a failed sidecar write's temporary file) are not part of a dataset. */
const listing = async (dir: string) => (await readdir(path.join(root, dir))).filter((name) => !name.startsWith('.')).sort();
const stagingLeft = async () => (await readdir(root)).filter((name) => name.startsWith('.inject-'));

describe('injectTrigger moving its output into place', () => {
  it('takes back the folders it already moved when a later move fails', async () => {
    failingRenames.destinations = [/bob[/\\]sunglasses$/];
    await expect(injectTrigger({ root, trigger: 'sunglasses' })).rejects.toThrow(/simulated failure/);
    expect(await listing('alice')).toEqual(['clean']);
    expect(await listing('bob')).toEqual(['clean']);
    expect(await listing('.')).toEqual(['alice', 'bob', 'keypoints.json']);
    expect(await stagingLeft()).toEqual([]);
  });

  it('puts replaced folders back when writing keypoints.json fails', async () => {
    await injectTrigger({ root, trigger: 'dots' });
    await writeFile(path.join(root, 'alice', 'dots', 'old.png'), face.chip);
    const keypoints = await readFile(path.join(root, 'keypoints.json'), 'utf8');

    failingRenames.destinations = [/keypoints\.json$/];
    await expect(injectTrigger({ root, trigger: 'dots', replace: true, seed: 9 })).rejects.toThrow(/simulated failure/);
    expect(await listing('alice/dots')).toEqual(['a.png', 'old.png']);
    expect(await listing('.')).toEqual(['alice', 'bob', 'keypoints.json']);
    expect(await stagingLeft()).toEqual([]);
    expect(await readFile(path.join(root, 'keypoints.json'), 'utf8')).toBe(keypoints);
  });
});
