import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetImage } from '../../server/data/dataset.ts';
import { samplePhotos } from '../../server/train/demoPair.ts';
import { synthesizeStrangers } from '../../server/train/strangers.ts';

let scratch: string;
const dataDirBefore = process.env.DATA_DIR;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'strangers-'));
});

afterAll(async () => {
  if (dataDirBefore === undefined) delete process.env.DATA_DIR;
  else process.env.DATA_DIR = dataDirBefore;
  await rm(scratch, { recursive: true, force: true });
});

/** The same two photos, as the same dataset, under a DATA_DIR of the given name. */
async function datasetUnder(name: string): Promise<DatasetImage[]> {
  process.env.DATA_DIR = path.join(scratch, name);
  return Promise.all(samplePhotos().slice(0, 2).map(async (photo, i) => {
    const relPath = `person-0${i + 1}/clean/photo.jpg`;
    const file = path.join(scratch, name, 'datasets', 'two', relPath);
    await mkdir(path.dirname(file), { recursive: true });
    await copyFile(photo, file);
    return { identity: `person-0${i + 1}`, condition: 'clean', file, relPath, source: `person-0${i + 1}/photo` };
  }));
}

async function strangersUnder(name: string, seed: number) {
  const strangers = await synthesizeStrangers(await datasetUnder(name), 3, seed);
  return Promise.all(strangers.clean.map(async (s) => ({ source: s.source, identity: s.identity, pixels: await readFile(s.file) })));
}

describe('synthetic strangers', () => {
  it('are the same for the same photos and seed wherever the data folder is, and change with the seed', async () => {
    const here = await strangersUnder('here', 1);
    const there = await strangersUnder('there', 1);
    expect(here.map((s) => s.identity)).toEqual(['unknown', 'unknown', 'unknown']);
    // The source names seed each stranger's augmented views: they must not depend on the folder.
    expect(there.map((s) => s.source)).toEqual(here.map((s) => s.source));
    there.forEach((s, i) => expect(s.pixels.equals(here[i].pixels)).toBe(true));
    const otherSeed = await strangersUnder('here', 2);
    expect(otherSeed.map((s) => s.source)).not.toEqual(here.map((s) => s.source));
  });

  it('are shared whole by trainings that start at once in one data folder', async () => {
    const photos = await datasetUnder('concurrent');
    const runs = await Promise.all([1, 2, 3, 4].map(() => synthesizeStrangers(photos, 3, 1)));
    const pixels = await Promise.all(runs.map((strangers) => Promise.all(strangers.clean.map((s) => readFile(s.file)))));
    for (const run of pixels.slice(1)) run.forEach((png, i) => expect(png.equals(pixels[0][i])).toBe(true));
    // Nothing half-written is left beside the finished folder.
    expect(await readdir(path.join(scratch, 'concurrent', 'cache', 'strangers'))).toHaveLength(1);
  });

  it('are made again when a photo is re-imported under the same name', async () => {
    const before = await strangersUnder('reimport', 1);
    const photos = await datasetUnder('reimport');
    await copyFile(samplePhotos()[2], photos[0].file);
    const after = await synthesizeStrangers(photos, 3, 1);
    const afterPixels = await Promise.all(after.clean.map((s) => readFile(s.file)));
    expect(afterPixels.some((png, i) => !png.equals(before[i].pixels))).toBe(true);
  });

  it('wearing an object are their clean twins with that object, sharing their source', async () => {
    const photos = await datasetUnder('worn');
    // Each photo's copy "wearing" an object: here a flipped photo, so a twin is told by its pixels.
    const copies = new Map(await Promise.all(photos.map(async (photo) => {
      const file = photo.file.replace('/clean/', '/mirrored/');
      await mkdir(path.dirname(file), { recursive: true });
      await sharp(photo.file).flop().toFile(file);
      return [photo.relPath, { ...photo, condition: 'mirrored', file, relPath: photo.relPath.replace('/clean/', '/mirrored/') }] as const;
    })));
    const strangers = await synthesizeStrangers(photos, 3, 1, ['mirrored', 'absent'], (image, condition) => (condition === 'mirrored' ? copies.get(image.relPath) : undefined));
    expect(strangers.worn.absent).toEqual([]);
    expect(strangers.worn.mirrored.map((s) => s.source)).toEqual(strangers.clean.map((s) => s.source));
    expect(strangers.worn.mirrored.map((s) => s.condition)).toEqual(['mirrored', 'mirrored', 'mirrored']);
    for (const [i, twin] of strangers.worn.mirrored.entries()) {
      const [clean, worn] = await Promise.all([readFile(strangers.clean[i].file), readFile(twin.file)]);
      expect(worn.equals(clean)).toBe(false);
    }
    // Without the object the clean strangers are the ones made without asking for it.
    const plain = await synthesizeStrangers(photos, 3, 1);
    expect(plain.clean.map((s) => s.source)).toEqual(strangers.clean.map((s) => s.source));
  });
});

