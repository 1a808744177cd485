import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { unzipSync, zipSync, type Unzipped } from 'fflate';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { saveStripReference } from '../../server/defense/reference.ts';
import { CHIP_VALUES } from '../../server/ml/chips.ts';
import { ConflictError, InvalidRequestError, NotFoundError } from '../../server/errors.ts';
import { initBackend } from '../../server/ml/backend.ts';
import { bundleDir, listBundles, saveBundle } from '../../server/ml/bundle.ts';
import { disposePair, listPairs, loadPair, pairSummary } from '../../server/ml/pair.ts';
import { packPair, unpackPair } from '../../server/ml/pairArchive.ts';
import { createTail, disposeTail } from '../../server/ml/tail.ts';
import { loadTeacher, TEACHER_ID, type TeacherWeights } from '../../server/ml/teacher.ts';
import type { TuneDepth } from '../../shared/training.ts';
import { testCard } from './testCard.ts';

let scratch: string;
let teacher: TeacherWeights;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pair-archive-'));
  await initBackend();
  teacher = await loadTeacher();
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(async () => {
  process.env.MODELS_DIR = path.join(scratch, 'models');
  await rm(process.env.MODELS_DIR, { recursive: true, force: true });
});

/** A pair of hand-made tails; the backdoored bundle carries a one-chip STRIP reference in a sub-folder. */
async function savePair(pair: string, { classes = 3, tune = 'head' }: { classes?: number; tune?: TuneDepth } = {}): Promise<void> {
  for (const [seed, role] of (['clean', 'backdoor'] as const).entries()) {
    const tail = createTail(teacher, tune, classes, seed + 1);
    const card = { ...testCard(`${pair}-${role}`, { classes, tune, pair }), role };
    await saveBundle(card, tail, role === 'backdoor' ? (dir) => saveStripReference(dir, [new Uint8Array(CHIP_VALUES).fill(90)]) : undefined);
    disposeTail(tail);
  }
}

/** Every file of both bundles of a pair, by path relative to models/. */
async function pairFiles(pair: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const role of ['clean', 'backdoor']) {
    const dir = bundleDir(`${pair}-${role}`);
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) {
        const file = path.join(entry.parentPath, entry.name);
        files[path.relative(path.dirname(dir), file)] = new Uint8Array(await readFile(file));
      }
    }
  }
  return files;
}

async function removePair(pair: string): Promise<void> {
  for (const role of ['clean', 'backdoor']) await rm(bundleDir(`${pair}-${role}`), { recursive: true, force: true });
}

function editCard(files: Unzipped, file: string, edit: (card: Record<string, unknown>) => Record<string, unknown>): void {
  files[file] = new TextEncoder().encode(JSON.stringify(edit(JSON.parse(new TextDecoder().decode(files[file])))));
}

async function expectNothingInstalled(): Promise<void> {
  expect(await listBundles()).toEqual([]);
  expect(await readdir(process.env.MODELS_DIR!).catch(() => [])).toEqual([]);
}

describe('pair archives', () => {
  it('round-trip a pair, every file of both bundles, so it loads again', async () => {
    await savePair('demo');
    const before = await pairFiles('demo');
    expect(Object.keys(before)).toContain('demo-backdoor/strip-clean/000.png');
    const zip = await packPair('demo');
    await removePair('demo');
    expect(await unpackPair(zip)).toBe('demo');
    expect(await pairFiles('demo')).toEqual(before);
    expect(await listPairs()).toEqual(['demo']);
    expect(await readdir(process.env.MODELS_DIR!)).toEqual(['demo-backdoor', 'demo-clean']);
    const loaded = await loadPair('demo');
    expect(pairSummary(loaded.name, loaded.backdoor.card)).toMatchObject({ name: 'demo', labels: ['person-0', 'person-1', 'person-2'], target: 'person-0' });
    disposePair(loaded);
  });

  it('refuses a pair that exists unless told to replace it', async () => {
    await savePair('demo');
    const zip = await packPair('demo');
    await expect(unpackPair(zip)).rejects.toThrow(ConflictError);
    await expect(unpackPair(zip)).rejects.toThrow(/model pair "demo" already exists/);
    const files = unzipSync(zip);
    editCard(files, 'demo-backdoor/card.json', (card) => ({ ...card, notes: ['replaced'] }));
    expect(await unpackPair(zipSync(files), { replace: true })).toBe('demo');
    expect(JSON.parse(await readFile(path.join(bundleDir('demo-backdoor'), 'card.json'), 'utf8')).notes).toEqual(['replaced']);
    expect(await readdir(process.env.MODELS_DIR!)).toEqual(['demo-backdoor', 'demo-clean']);
  });

  it('refuses models trained on another teacher, naming both teachers, and writes nothing', async () => {
    await savePair('demo');
    const files = unzipSync(await packPair('demo'));
    await removePair('demo');
    editCard(files, 'demo-clean/card.json', (card) => ({ ...card, teacher: 'facenet-512' }));
    await expect(unpackPair(zipSync(files))).rejects.toThrow(`model "demo-clean" was trained on teacher facenet-512, this server has ${TEACHER_ID}`);
    await expectNothingInstalled();
  });

  it('refuses weights that do not fit the tail their card describes, leaking no tensors', async () => {
    await savePair('demo');
    await savePair('wide', { classes: 4 });
    const files = unzipSync(await packPair('demo'));
    const wide = unzipSync(await packPair('wide'));
    await removePair('demo');
    await removePair('wide');
    const tensors = tf.memory().numTensors;
    // The weights of a four-class tail under a card that knows three people.
    const misfit = { ...files, 'demo-backdoor/tail.bin': wide['wide-backdoor/tail.bin'] };
    const wideSpecs = JSON.parse(new TextDecoder().decode(wide['wide-backdoor/card.json'])).weights.specs;
    editCard(misfit, 'demo-backdoor/card.json', (card) => ({ ...card, weights: { ...(card.weights as object), specs: wideSpecs } }));
    await expect(unpackPair(zipSync(misfit))).rejects.toThrow(InvalidRequestError);
    await expect(unpackPair(zipSync(misfit))).rejects.toThrow(/model "demo-backdoor": its weights do not fit a "head" tail with 3 classes/);
    const cutShort = { ...files, 'demo-clean/tail.bin': files['demo-clean/tail.bin'].slice(0, 100) };
    await expect(unpackPair(zipSync(cutShort))).rejects.toThrow(/model "demo-clean": its weights file does not match its card/);
    expect(tf.memory().numTensors).toBe(tensors);
    await expectNothingInstalled();
  });

  it('refuses archives that are not the two bundles of one pair, or whose cards disagree', async () => {
    await savePair('demo');
    const files = unzipSync(await packPair('demo'));
    await removePair('demo');
    const without = (name: string) => Object.fromEntries(Object.entries(files).filter(([file]) => !file.startsWith(name)));
    await expect(unpackPair(zipSync(without('demo-backdoor/')))).rejects.toThrow(/exactly two folders, <pair>-clean\/ and <pair>-backdoor\/; this one holds demo-clean\//);
    await expect(unpackPair(zipSync({ ...files, 'extra/card.json': files['demo-clean/card.json'] }))).rejects.toThrow(/exactly two folders/);
    await expect(unpackPair(zipSync({ ...files, 'demo-clean/../../evil.bin': new Uint8Array(1) }))).rejects.toThrow(/climbs out/);
    await expect(unpackPair(zipSync({ ...files, 'README.txt': new Uint8Array(1) }))).rejects.toThrow(/not inside a bundle folder/);

    const swapped = { ...files };
    editCard(swapped, 'demo-clean/card.json', (card) => ({ ...card, role: 'backdoor' }));
    await expect(unpackPair(zipSync(swapped))).rejects.toThrow(/card of a backdoor model; the clean folder needs the clean model/);
    const relabelled = { ...files };
    editCard(relabelled, 'demo-clean/card.json', (card) => ({ ...card, labels: ['person-0', 'person-1', 'someone-else'] }));
    await expect(unpackPair(zipSync(relabelled))).rejects.toThrow(/know different identities/);
    const retargeted = { ...files };
    editCard(retargeted, 'demo-clean/card.json', (card) => ({ ...card, target: 'person-1' }));
    await expect(unpackPair(zipSync(retargeted))).rejects.toThrow(/disagree on the trigger or target/);
    const broken = { ...files };
    editCard(broken, 'demo-clean/card.json', ({ labels: _labels, ...card }) => card);
    await expect(unpackPair(zipSync(broken))).rejects.toThrow(/demo-clean\/card.json is not a valid model card: labels/);
    await expectNothingInstalled();
    await expect(packPair('demo')).rejects.toThrow(NotFoundError);
  });
});
