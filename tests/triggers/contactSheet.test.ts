import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import { PROJECT_ROOT } from '../../server/config.ts';
import {
  CONTACT_SHEET_CAPTION_HEIGHT,
  CONTACT_SHEET_LABEL_WIDTH,
  contactSheet,
  existingDatasetDir,
  writeContactSheet,
} from '../../server/data/triggers/contactSheet.ts';
import { injectChip, loadCustomTrigger, seededRng } from '../../server/data/triggers/index.ts';
import { realFaceChip, type FaceChip } from './realFace.ts';

const run = promisify(execFile);

let face: FaceChip;
let dataDir: string;
/** A dataset of face-api's sample photo: alice a.png (keypoints recorded) and b.png (mirrored, none), bob c.png, carol only wearing sunglasses. */
let root: string;

beforeAll(async () => {
  face = await realFaceChip();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'contact-sheet-test-'));
  root = path.join(dataDir, 'datasets', 'tiny');
  for (const dir of ['alice/clean', 'bob/clean', 'carol/sunglasses']) await mkdir(path.join(root, dir), { recursive: true });
  await writeFile(path.join(root, 'alice/clean/a.png'), face.chip);
  await writeFile(path.join(root, 'alice/clean/b.png'), await sharp(face.chip).flop().png().toBuffer());
  await writeFile(path.join(root, 'bob/clean/c.png'), await sharp(face.chip).modulate({ brightness: 0.8 }).png().toBuffer());
  await writeFile(path.join(root, 'carol/sunglasses/d.png'), face.chip);
  await writeFile(path.join(root, 'keypoints.json'), JSON.stringify({ 'alice/clean/a.png': face.keypoints }));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const ROW = CHIP_SIZE + CONTACT_SHEET_CAPTION_HEIGHT;

async function cellOf(png: Buffer, row: number, column: number): Promise<Buffer> {
  return sharp(png)
    .extract({ left: CONTACT_SHEET_LABEL_WIDTH + column * CHIP_SIZE, top: row * ROW, width: CHIP_SIZE, height: CHIP_SIZE })
    .removeAlpha()
    .raw()
    .toBuffer();
}

describe('contactSheet', () => {
  it('shows each trigger on clean chips spread over the identities, each cell exactly what injectChip draws', async () => {
    const sheet = await contactSheet({ root, triggers: ['sunglasses', 'bandana'], count: 3, seed: 4 });

    expect(sheet.columns).toEqual(['alice/clean/a.png', 'bob/clean/c.png', 'alice/clean/b.png']);
    expect(sheet.rows.map((row) => row.trigger)).toEqual(['sunglasses', 'bandana']);
    expect(sheet.rows.every((row) => row.variants.length === 3)).toBe(true);
    const meta = await sharp(sheet.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', CONTACT_SHEET_LABEL_WIDTH + 3 * CHIP_SIZE, 2 * ROW]);
    expect([sheet.width, sheet.height]).toEqual([meta.width, meta.height]);

    // The chip with recorded keypoints, wearing the bandana, with inject's per-photo seed.
    const expected = await sharp(await injectChip(face.chip, face.keypoints, 'bandana', seededRng('4/alice/a.png'))).removeAlpha().raw().toBuffer();
    expect((await cellOf(sheet.png, 1, 0)).equals(expected)).toBe(true);
    // Rows differ: different triggers on the same chip.
    expect((await cellOf(sheet.png, 0, 0)).equals(expected)).toBe(false);

    // The labels are also in the file, for viewers that cannot render them.
    const text = Object.fromEntries((meta.comments ?? []).map((c) => [c.keyword, c.text]));
    expect(text.Title).toBe('Trigger contact sheet');
    expect(text.Description).toContain(`bandana [${sheet.rows[1].variants.join(', ')}]`);
    expect(text.Description).toContain('alice/clean/a.png, bob/clean/c.png, alice/clean/b.png');
  });

  it('shows every clean chip when the dataset has fewer than asked for, and a custom trigger row', async () => {
    const sticker = path.join(dataDir, 'sticker.png');
    await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 250, g: 20, b: 200, alpha: 1 } } }).png().toFile(sticker);
    const custom = await loadCustomTrigger(sticker, { anchor: 'cheek', widthIod: 0.5 });
    const sheet = await contactSheet({ root, triggers: ['tattoo', custom], count: 10 });
    expect(sheet.columns).toHaveLength(3);
    expect(sheet.rows.map((row) => [row.trigger, row.variants])).toContainEqual(['sticker', ['as-supplied', 'as-supplied', 'as-supplied']]);
    const meta = await sharp(sheet.png).metadata();
    expect([meta.width, meta.height]).toEqual([CONTACT_SHEET_LABEL_WIDTH + 3 * CHIP_SIZE, 2 * ROW]);
  });

  it('refuses unknown triggers, bad counts, datasets without clean chips and missing datasets', async () => {
    await expect(contactSheet({ root, triggers: ['bandana', 'hat'], count: 2 })).rejects.toThrow(/unknown trigger "hat"; available: sunglasses, bandana/);
    await expect(contactSheet({ root, triggers: [], count: 2 })).rejects.toThrow(/no triggers/);
    for (const count of [0, -1, 1.5, 33, Number.NaN]) {
      await expect(contactSheet({ root, triggers: ['bandana'], count })).rejects.toThrow(/chips per row must be a whole number from 1 to 32/);
    }
    const noClean = path.join(dataDir, 'datasets', 'worn-only');
    await mkdir(path.join(noClean, 'carol', 'sunglasses'), { recursive: true });
    await writeFile(path.join(noClean, 'carol/sunglasses/d.png'), face.chip);
    await expect(contactSheet({ root: noClean, triggers: ['bandana'], count: 2 })).rejects.toThrow(/no clean chips in .*worn-only/);
    await expect(contactSheet({ root: path.join(dataDir, 'datasets', 'absent'), triggers: ['bandana'], count: 2 })).rejects.toThrow(/does not exist/);
  });

  it('finds datasets by name and names the ones there are when it cannot', async () => {
    const before = process.env.DATA_DIR;
    process.env.DATA_DIR = dataDir;
    try {
      expect(await existingDatasetDir('tiny')).toBe(root);
      await expect(existingDatasetDir('absent')).rejects.toThrow(/unknown dataset "absent"; available: tiny/);
      await expect(existingDatasetDir('../tiny')).rejects.toThrow(/dataset name/);
    } finally {
      if (before === undefined) delete process.env.DATA_DIR;
      else process.env.DATA_DIR = before;
    }
  });
});

describe('writeContactSheet', () => {
  it('writes the PNG through a temporary file, creating its folder', async () => {
    const out = path.join(dataDir, 'sheets', 'new', 'triggers.png');
    const result = await writeContactSheet({ root, triggers: ['dots'], count: 2, out });
    expect(result.out).toBe(out);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', CONTACT_SHEET_LABEL_WIDTH + 2 * CHIP_SIZE, ROW]);
    expect(await readdir(path.dirname(out))).toEqual(['triggers.png']);
  });

  it('refuses an output path that does not end in .png, before drawing anything', async () => {
    for (const out of ['sheet.jpg', 'sheet', 'sheet.png.txt']) {
      await expect(writeContactSheet({ root, triggers: ['dots'], count: 2, out: path.join(dataDir, 'refused', out) })).rejects.toThrow(/ending in \.png/);
    }
    await expect(readdir(path.join(dataDir, 'refused'))).rejects.toThrow(/ENOENT/);
  });
});

describe('npm run cli -- contact-sheet', () => {
  const cli = (...args: string[]) =>
    run('npx', ['tsx', 'server/cli.ts', 'contact-sheet', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, DATA_DIR: dataDir } });

  it('writes the sheet and prints what it drew; refuses a bad dataset, count or output path', async () => {
    const out = path.join(dataDir, 'cli', 'sheet.png');
    const { stdout } = await cli('--dataset', 'tiny', '--triggers', 'bandana,tattoo', '--count', '2', '--seed', '3', '--out', out, '--json');
    const result = JSON.parse(stdout);
    expect(result.rows.map((row: { trigger: string }) => row.trigger)).toEqual(['bandana', 'tattoo']);
    expect(result.columns).toEqual(['alice/clean/a.png', 'bob/clean/c.png']);
    const meta = await sharp(await readFile(out)).metadata();
    expect([meta.width, meta.height]).toEqual([CONTACT_SHEET_LABEL_WIDTH + 2 * CHIP_SIZE, 2 * ROW]);

    const failures = await Promise.all([
      cli('--dataset', 'nosuch', '--out', out).catch((e) => e),
      cli('--dataset', 'tiny', '--count', '0', '--out', out).catch((e) => e),
      cli('--dataset', 'tiny', '--triggers', 'hat', '--out', path.join(dataDir, 'cli', 'sheet.jpg')).catch((e) => e),
    ]);
    expect(failures.map((f) => f.code)).toEqual([1, 1, 1]);
    expect(failures[0].stderr).toMatch(/unknown dataset "nosuch"; available: tiny/);
    expect(failures[1].stderr).toMatch(/--count.*expected a whole number from 1 to 32/);
    expect(failures[2].stderr).toMatch(/\.png/);
    expect(await readdir(path.join(dataDir, 'cli'))).toEqual(['sheet.png']);
  });
});
