import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import seedrandom from 'seedrandom';
import sharp from 'sharp';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import type { DatasetImage } from '../data/dataset.ts';
import type { Augmentation } from '../../shared/training.ts';
import { renderView } from '../train/augment.ts';
import type { Sample } from '../train/split.ts';
import { checkChips, decodeChips } from '../ml/chips.ts';

/**
 * STRIP's clean reference: held-out clean face chips kept in the backdoored model's bundle as
 * `strip-clean/NNN.png`. They are photos of enrolled people (biometric data), so at most 64.
 */
export const MAX_REFERENCE_CHIPS = 64;
export const REFERENCE_FOLDER = 'strip-clean';

/** Up to `max` held-out clean samples spread over identities (round-robin over a seeded order), rendered as raw RGB chips. */
export async function renderStripReference(validation: readonly Sample<DatasetImage>[], views: number, augmentation: Augmentation, seed: number, max = MAX_REFERENCE_CHIPS): Promise<Buffer[]> {
  const rng = seedrandom(`strip-reference:${seed}`);
  const byIdentity = new Map<string, Sample<DatasetImage>[]>();
  const shuffled = validation.map((sample) => ({ sample, order: rng() })).sort((a, b) => a.order - b.order).map(({ sample }) => sample);
  for (const sample of shuffled) {
    byIdentity.set(sample.image.identity, [...(byIdentity.get(sample.image.identity) ?? []), sample]);
  }
  const queues = [...byIdentity.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, samples]) => samples);
  const picked: Sample<DatasetImage>[] = [];
  while (picked.length < max && queues.some((q) => q.length > 0)) {
    for (const queue of queues) if (queue.length > 0 && picked.length < max) picked.push(queue.shift()!);
  }
  return Promise.all(picked.map(async (s) => renderView(await readFile(s.image.file), s.image.source, s.view, views, augmentation)));
}

/**
 * Writes the reference chips (raw RGB) as PNGs into `<bundleDir>/strip-clean/`, replacing any
 * earlier set in one rename so a reader never sees half of one.
 */
export async function saveStripReference(bundleDir: string, chips: readonly Uint8Array[]): Promise<void> {
  if (chips.length === 0) throw new Error('a STRIP reference needs at least one clean chip');
  if (chips.length > MAX_REFERENCE_CHIPS) throw new Error(`a STRIP reference holds at most ${MAX_REFERENCE_CHIPS} chips (biometric data), got ${chips.length}`);
  checkChips('reference chip', chips);
  const folder = path.join(bundleDir, REFERENCE_FOLDER);
  const staging = `${folder}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await Promise.all(chips.map(async (chip, i) => {
    const png = await sharp(chip, { raw: { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3 } }).png().toBuffer();
    await writeFile(path.join(staging, `${String(i).padStart(3, '0')}.png`), png);
  }));
  await rm(folder, { recursive: true, force: true });
  await rename(staging, folder);
}

/** The reference chips of a bundle as raw RGB, in file order. */
export async function loadStripReference(bundleDir: string): Promise<Buffer[]> {
  const folder = path.join(bundleDir, REFERENCE_FOLDER);
  const files = await readdir(folder).catch(() => {
    throw new Error(`${folder}: no STRIP reference in this model bundle (train the pair again to create one)`);
  });
  const pngs = files.filter((f) => f.endsWith('.png')).sort();
  if (pngs.length === 0) throw new Error(`${folder}: the STRIP reference folder holds no PNG chips`);
  const encoded = await Promise.all(pngs.map((name) => readFile(path.join(folder, name))));
  return decodeChips(encoded).catch((error: unknown) => {
    throw new Error(`${folder}: ${(error as Error).message}`);
  });
}
