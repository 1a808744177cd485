import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { conditions, readKeypoints, scanDataset } from '../../server/data/dataset.ts';
import { importDataset } from '../../server/data/import.ts';

// Real photos kept beside the project for development, absent from a fresh clone.
const cmuSunglasses = path.resolve(PROJECT_ROOT, '../shared/data/physical/cmu-sunglasses-10');
const lfw = path.resolve(PROJECT_ROOT, '../shared/data/faces/lfw-10x10');

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'import-shared-'));
  process.env.DATA_DIR = path.join(scratch, 'data');
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!existsSync(cmuSunglasses))('importing CMU head shots as pre-cropped faces', () => {
  it('keeps every photo: 10 identities, each with clean and sunglasses chips', async () => {
    const report = await importDataset({ from: cmuSunglasses, name: 'cmu', detect: false });
    expect(report.skipped).toEqual([]);
    const dataset = await scanDataset(datasetDir('cmu'));
    expect(dataset.identities).toHaveLength(10);
    for (const identity of dataset.identities) expect(Object.keys(report.perIdentity[identity]).sort()).toEqual(['clean', 'sunglasses']);
    expect(conditions(dataset).clean + conditions(dataset).sunglasses).toBe(report.imported);
    expect(await readKeypoints(dataset.root)).toEqual({});
  }, 60_000);
});

describe.skipIf(!existsSync(lfw))('importing LFW photos with detection', () => {
  it('aligns most faces and says why it skipped the others', async () => {
    // The first four photos of each person keep the test under 30 s on wasm.
    const from = path.join(scratch, 'lfw-subset');
    let total = 0;
    for (const identity of await readdir(lfw)) {
      await mkdir(path.join(from, identity), { recursive: true });
      for (const name of (await readdir(path.join(lfw, identity, 'clean'))).sort().slice(0, 4)) {
        await symlink(path.join(lfw, identity, 'clean', name), path.join(from, identity, name));
        total += 1;
      }
    }
    const report = await importDataset({ from, name: 'lfw' });
    console.info(`LFW subset: ${report.imported} of ${total} imported; skipped: ${report.skipped.map((s) => `${s.relPath} (${s.reason})`).join(', ')}`);
    expect(report.imported + report.skipped.length).toBe(total);
    expect(report.imported).toBeGreaterThanOrEqual(0.8 * total);
    for (const { reason } of report.skipped) expect(reason).toMatch(/^(no face found|face too small|head turned too far)/);
    expect(report.skipped).toContainEqual({ relPath: 'Arnold_Schwarzenegger/Arnold_Schwarzenegger_0001.jpg', reason: expect.stringContaining('head turned too far') });
    const dataset = await scanDataset(datasetDir('lfw'));
    expect(Object.keys(await readKeypoints(dataset.root))).toEqual(dataset.images.map((i) => i.relPath));
  }, 60_000);
});
