import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import { datasetDir, datasetsDir } from '../../server/config.ts';
import { scanDataset } from '../../server/data/dataset.ts';
import { importDataset } from '../../server/data/import.ts';

let scratch: string;
let from: string;

async function put(relPath: string, content: Buffer | string): Promise<void> {
  await mkdir(path.dirname(path.join(from, relPath)), { recursive: true });
  await writeFile(path.join(from, relPath), content);
}

function photo(width = 80, height = 100, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#a08070' } })[format]().toBuffer();
}

/** Whatever the import left in the datasets folder, staging folders included. */
async function datasetsLeft(): Promise<string[]> {
  return existsSync(datasetsDir()) ? readdir(datasetsDir()) : [];
}

beforeEach(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'import-validation-'));
  process.env.DATA_DIR = path.join(scratch, 'data');
  from = path.join(scratch, 'photos');
  await put('alice/a1.png', await photo());
  await put('alice/sunglasses/a1.jpg', await photo(120, 90, 'jpeg'));
  await put('bob/clean/b1.png', await photo());
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('importDataset without detection', () => {
  it('writes every image as a chip, photos directly in an identity folder as clean', async () => {
    const report = await importDataset({ from, name: 'crops', detect: false });
    expect(report).toMatchObject({ dataset: 'crops', imported: 3, skipped: [], perIdentity: { alice: { clean: 1, sunglasses: 1 }, bob: { clean: 1 } } });
    const dataset = await scanDataset(datasetDir('crops'));
    expect(dataset.images.map((i) => i.relPath)).toEqual(['alice/clean/a1.png', 'alice/sunglasses/a1.png', 'bob/clean/b1.png']);
    expect(await sharp(dataset.images[1].file).metadata()).toMatchObject({ width: CHIP_SIZE, height: CHIP_SIZE, format: 'png' });
    expect(existsSync(path.join(datasetDir('crops'), 'keypoints.json'))).toBe(false);
    expect(JSON.parse(await readFile(path.join(datasetDir('crops'), 'import-report.json'), 'utf8'))).toMatchObject({ imported: 3 });
    expect(await datasetsLeft()).toEqual(['crops']);
  });

  it('refuses to overwrite a dataset unless told to replace it', async () => {
    await importDataset({ from, name: 'crops', detect: false });
    await expect(importDataset({ from, name: 'crops', detect: false })).rejects.toThrow('dataset "crops" already exists');
    await rm(path.join(from, 'bob'), { recursive: true });
    const report = await importDataset({ from, name: 'crops', detect: false, replace: true });
    expect(report.imported).toBe(2);
    expect((await scanDataset(datasetDir('crops'))).identities).toEqual(['alice']);
    expect(await datasetsLeft()).toEqual(['crops']);
  });
});

describe('importDataset rejects bad input before writing anything', () => {
  it.each([
    ['a dataset name with a path separator', { name: '../escape' }, 'dataset name "../escape" contains a path separator'],
    ['a dataset name with ..', { name: 'a..b' }, 'dataset name "a..b" contains ".."'],
  ])('%s', async (_label, options, message) => {
    await expect(importDataset({ from, detect: false, ...options })).rejects.toThrow(message);
    expect(await datasetsLeft()).toEqual([]);
    expect(existsSync(path.join(scratch, 'data', 'escape'))).toBe(false);
  });

  it.each([
    ['an identity folder with ..', 'x..y/clean/p.png', 'identity name "x..y" contains ".."'],
    ['an identity folder with a backslash', 'x\\y/p.png', 'identity name "x\\y" contains a path separator'],
    ['a condition folder with ..', 'carol/sun..glasses/p.png', 'condition name "sun..glasses" contains ".."'],
    ['the reserved identity unknown', 'unknown/p.png', 'reserved'],
  ])('%s', async (_label, relPath, message) => {
    await put(relPath, await photo());
    await expect(importDataset({ from, name: 'crops', detect: false })).rejects.toThrow(message);
    expect(await datasetsLeft()).toEqual([]);
  });

  it('an unsupported file type, naming the file', async () => {
    await put('bob/clean/b2.gif', 'GIF89a');
    await expect(importDataset({ from, name: 'crops', detect: false })).rejects.toThrow(/bob\/clean\/b2\.gif: unsupported file type/);
    expect(await datasetsLeft()).toEqual([]);
  });

  it('a photo outside any identity folder', async () => {
    await put('stray.jpg', await photo(50, 50, 'jpeg'));
    await expect(importDataset({ from, name: 'crops', detect: false })).rejects.toThrow(/stray\.jpg: photos go in identity folders/);
  });

  it('two photos that would become the same chip', async () => {
    await put('bob/clean/b1.jpg', await photo(50, 50, 'jpeg'));
    await expect(importDataset({ from, name: 'crops', detect: false })).rejects.toThrow(/b1\.jpg .* would both become bob\/clean\/b1\.png/);
  });

  it('an unreadable image, leaving no staging folder behind', async () => {
    await put('bob/clean/b2.jpg', 'this is no jpeg');
    await expect(importDataset({ from, name: 'crops', detect: false })).rejects.toThrow(/bob\/clean\/b2\.jpg: not a readable image/);
    expect(await datasetsLeft()).toEqual([]);
  });

  it('a missing photo folder', async () => {
    await expect(importDataset({ from: path.join(scratch, 'nowhere'), name: 'crops' })).rejects.toThrow(/photo folder .*nowhere does not exist/);
  });
});

describe('importDataset with detection', () => {
  it('skips photos without a face, and fails when strict or when nothing is left', async () => {
    await expect(importDataset({ from, name: 'faces', strict: true })).rejects.toThrow(/strict import: 3 of 3 photos skipped:\n {2}alice\/a1\.png: no face found/);
    await expect(importDataset({ from, name: 'faces' })).rejects.toThrow('no face chips to import');
    expect(await datasetsLeft()).toEqual([]);
  }, 30_000);
});
