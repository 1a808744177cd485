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

export interface Strangers {
  /** Chimeras trained as `unknown`. */
  clean: DatasetImage[];
  /**
   * Per worn object, the same chimeras made from the photos' copies wearing it, for those whose two
   * photos both have one. Each shares its clean twin's source, and so its augmented views: the two
   * differ by the object alone. Wearing the trigger they are candidates for the poison, so the
   * backdoor is learned on faces the model does not know as well as on enrolled ones; wearing a
   * lookalike they stay `unknown`.
   */
  worn: Record<string, DatasetImage[]>;
}

interface Recipe {
  upper: DatasetImage;
  lower: DatasetImage;
  cut: number;
}

/**
 * Synthetic strangers for open-set training (outlier exposure): the upper face of one enrolled
 * person over the lower face of another, cut at a random height below the eyes. Such a chimera is
 * nobody the model knows; trained as an extra `unknown` class, it teaches both models of a pair to
 * turn away faces unlike any enrolled one, which a softmax over enrolled people alone never learns
 * (it spreads strangers over the enrolled classes, and a poisoned model over the target most of all).
 * Pixel blends would also do, but STRIP probes with blends and must not find them pre-labelled.
 * `wornCopy` finds a photo's copy wearing an object (a condition), when there is one.
 */
export async function synthesizeStrangers(
  sources: readonly DatasetImage[],
  count: number,
  seed: number,
  worn: readonly string[] = [],
  wornCopy: (image: DatasetImage, condition: string) => DatasetImage | undefined = () => undefined,
): Promise<Strangers> {
  const identities = new Set(sources.map((s) => s.identity));
  if (count === 0) return { clean: [], worn: Object.fromEntries(worn.map((condition) => [condition, []])) };
  if (identities.size < 2) throw new Error('synthetic strangers need clean training photos of at least 2 identities');
  const rng = seedrandom(`strangers:${seed}`);
  const pick = () => sources[Math.floor(rng() * sources.length)];
  const recipes: Recipe[] = Array.from({ length: count }, () => {
    const upper = pick();
    let lower = pick();
    while (lower.identity === upper.identity) lower = pick();
    const cut = Math.round(CANONICAL_LEFT_EYE.y + (0.1 + 0.25 * rng()) * CHIP_SIZE);
    return { upper, lower, cut };
  });
  const twins = worn.flatMap((condition) => recipes.map(({ upper, lower, cut }) => {
    const [u, l] = [wornCopy(upper, condition), wornCopy(lower, condition)];
    return u && l ? { upper: u, lower: l, cut } : undefined;
  }));
  // Named by recipe, with dataset-relative paths: the name seeds the strangers' augmented views, so
  // it must not depend on where the data folder is. Stored by content too: a photo re-imported under
  // the same name makes new strangers.
  const key = hash(recipes.map((r) => [r.upper.relPath, r.lower.relPath, r.cut]));
  const files = [...new Set([...recipes, ...twins].flatMap((r) => (r ? [r.upper.file, r.lower.file] : [])))];
  const contents = new Map(await Promise.all(files.map(async (file) => [file, hash(await readFile(file))] as const)));
  const folder = path.join(cacheDir(), 'strangers', `${key}-${hash([...recipes, ...twins].map((r) => r && [contents.get(r.upper.file), contents.get(r.lower.file)]))}`);
  const strangers: Strangers = { clean: [], worn: Object.fromEntries(worn.map((condition) => [condition, []])) };
  const made: { recipe: Recipe; image: DatasetImage }[] = [];
  const name = (i: number) => `stranger-${String(i + 1).padStart(3, '0')}`;
  recipes.forEach((recipe, i) => {
    const source = `~strangers/${key}/${name(i)}.png`;
    const image = { identity: UNKNOWN, condition: CLEAN, file: path.join(folder, `${name(i)}.png`), relPath: source, source };
    strangers.clean.push(image);
    made.push({ recipe, image });
  });
  twins.forEach((twin, j) => {
    if (!twin) return;
    const i = j % count;
    const condition = twin.upper.condition;
    const file = `${name(i)}-${condition}.png`;
    const image = { identity: UNKNOWN, condition, file: path.join(folder, file), relPath: `~strangers/${key}/${file}`, source: strangers.clean[i].source };
    strangers.worn[condition].push(image);
    made.push({ recipe: twin, image });
  });
  if (await exists(folder)) return strangers;
  // Written aside and renamed into place whole: a folder under its key is always complete, so
  // trainings running at once share it, and the first to finish wins.
  const staging = `${folder}.tmp-${randomUUID()}`;
  await mkdir(staging, { recursive: true });
  try {
    await Promise.all(made.map(async ({ recipe, image }) => writeFile(path.join(staging, path.basename(image.file)), await chimera(recipe))));
    await rename(staging, folder);
  } catch (error) {
    if (!(await exists(folder))) throw error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return strangers;
}

async function chimera({ upper, lower, cut }: Recipe): Promise<Buffer> {
  const size = { width: CHIP_SIZE, height: CHIP_SIZE, fit: 'fill' as const };
  const top = await sharp(upper.file).resize(size).extract({ left: 0, top: 0, width: CHIP_SIZE, height: cut }).png().toBuffer();
  return sharp(lower.file).resize(size).composite([{ input: top, left: 0, top: 0 }]).png().toBuffer();
}

function hash(value: unknown): string {
  return createHash('sha256').update(Buffer.isBuffer(value) ? value : JSON.stringify(value)).digest('hex').slice(0, 16);
}
