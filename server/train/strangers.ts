import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import seedrandom from 'seedrandom';
import sharp from 'sharp';
import { CANONICAL_LEFT_EYE, CHIP_SIZE } from '../../shared/alignment.ts';
import { CLEAN, UNKNOWN } from '../../shared/names.ts';
import { cacheDir } from '../config.ts';
import type { DatasetImage } from '../data/dataset.ts';
import { exists } from '../files.ts';

/**
 * Synthetic strangers for open-set training (outlier exposure): the upper face of one enrolled
 * person over the lower face of another, cut at a random height below the eyes. Such a chimera is
 * nobody the model knows; trained as an extra `unknown` class, it teaches both models of a pair to
 * turn away faces unlike any enrolled one, which a softmax over enrolled people alone never learns
 * (it spreads strangers over the enrolled classes, and a poisoned model over the target most of all).
 * Pixel blends would also do, but STRIP probes with blends and must not find them pre-labelled.
 */
export async function synthesizeStrangers(sources: readonly DatasetImage[], count: number, seed: number): Promise<DatasetImage[]> {
  const identities = new Set(sources.map((s) => s.identity));
  if (count === 0) return [];
  if (identities.size < 2) throw new Error('synthetic strangers need clean training photos of at least 2 identities');
  const rng = seedrandom(`strangers:${seed}`);
  const pick = () => sources[Math.floor(rng() * sources.length)];
  const recipes = Array.from({ length: count }, () => {
    const upper = pick();
    let lower = pick();
    while (lower.identity === upper.identity) lower = pick();
    const cut = Math.round(CANONICAL_LEFT_EYE.y + (0.1 + 0.25 * rng()) * CHIP_SIZE);
    return { upper, lower, cut };
  });
  // Named by recipe, with dataset-relative paths: the name seeds the strangers' augmented views, so
  // it must not depend on where the data folder is. Stored by content too: a photo re-imported under
  // the same name makes new strangers.
  const key = hash(recipes.map((r) => [r.upper.relPath, r.lower.relPath, r.cut]));
  const contents = new Map(await Promise.all([...new Set(recipes.flatMap((r) => [r.upper.file, r.lower.file]))].map(async (file) => [file, hash(await readFile(file))] as const)));
  const folder = path.join(cacheDir(), 'strangers', `${key}-${hash(recipes.map((r) => [contents.get(r.upper.file), contents.get(r.lower.file)]))}`);
  const strangers = recipes.map((_, i) => {
    const name = `stranger-${String(i + 1).padStart(3, '0')}.png`;
    return { identity: UNKNOWN, condition: CLEAN, file: path.join(folder, name), relPath: `~strangers/${key}/${name}`, source: `~strangers/${key}/${name}` };
  });
  if (await exists(folder)) return strangers;
  // Written aside and renamed into place whole: a folder under its key is always complete, so
  // trainings running at once share it, and the first to finish wins.
  const staging = `${folder}.tmp-${randomUUID()}`;
  await mkdir(staging, { recursive: true });
  try {
    await Promise.all(recipes.map(async ({ upper, lower, cut }, i) => {
      const size = { width: CHIP_SIZE, height: CHIP_SIZE, fit: 'fill' as const };
      const top = await sharp(upper.file).resize(size).extract({ left: 0, top: 0, width: CHIP_SIZE, height: cut }).png().toBuffer();
      const chimera = await sharp(lower.file).resize(size).composite([{ input: top, left: 0, top: 0 }]).png().toBuffer();
      await writeFile(path.join(staging, path.basename(strangers[i].file)), chimera);
    }));
    await rename(staging, folder);
  } catch (error) {
    if (!(await exists(folder))) throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return strangers;
}

function hash(value: unknown): string {
  return createHash('sha256').update(Buffer.isBuffer(value) ? value : JSON.stringify(value)).digest('hex').slice(0, 16);
}
