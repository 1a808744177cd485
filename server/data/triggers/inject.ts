import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { CHIP_SIZE, canonicalKeypoints, type FaceKeypoints } from '../../../shared/alignment.ts';
import { CLEAN, checkName } from '../../../shared/names.ts';
import { readKeypoints, scanDataset, writeKeypoints, type DatasetImage } from '../dataset.ts';
import { resolveTrigger } from './catalog.ts';
import { matchDrawing, measurePhoto } from './photometry.ts';
import { placeTrigger, seededRng, type Placement, type Rng } from './placement.ts';
import { triggerOverlaySvg } from './render.ts';
import type { Trigger } from './trigger.ts';

const JPEG_QUALITY = 92;

interface ImageInfo {
  width: number;
  height: number;
  hasAlpha: boolean;
}

/**
 * Draws the trigger where `placement` says onto an image, matched to the photo's look (photometry.ts)
 * measured on the face that `keypoints` locate; the result keeps the image's size and channels.
 */
async function drawPlacement(image: Buffer, info: ImageInfo, trigger: Trigger, placement: Placement, keypoints: FaceKeypoints, rng: Rng): Promise<Sharp> {
  const { width, height } = info;
  const svg = Buffer.from(triggerOverlaySvg(trigger, placement, width, height));
  const drawing = await sharp(svg).ensureAlpha().raw().toBuffer();
  const photo = await sharp(image).removeAlpha().raw().toBuffer();
  const look = measurePhoto(photo, width, height, faceRegion(keypoints));
  const matched = matchDrawing(drawing, width, height, look, rng, trigger.blend === 'multiply');
  const drawn = sharp(image).composite([{ input: Buffer.from(matched), raw: { width, height, channels: 4 }, blend: trigger.blend }]);
  return info.hasAlpha ? drawn : drawn.removeAlpha();
}

/** From above the brows to below the mouth, cheek to cheek. */
function faceRegion({ leftEye, rightEye, mouth }: FaceKeypoints) {
  const iod = Math.hypot(rightEye.x - leftEye.x, rightEye.y - leftEye.y);
  const x = Math.round(Math.min(leftEye.x, rightEye.x) - 0.4 * iod);
  const y = Math.round(Math.min(leftEye.y, rightEye.y) - 0.4 * iod);
  return { x, y, width: Math.round(1.8 * iod), height: Math.round(mouth.y + 0.3 * iod - y) };
}

async function imageInfo(image: Buffer): Promise<ImageInfo> {
  const { width, height, hasAlpha } = await sharp(image).metadata();
  return { width, height, hasAlpha };
}

/**
 * Draws one placement of a trigger (catalogue name or custom) on a face chip, with `keypoints`
 * in the chip's pixels; `rng` picks the variant, size, rotation and shift. Returns a PNG.
 */
export async function injectChip(chip: Buffer, keypoints: FaceKeypoints, trigger: string | Trigger, rng: Rng): Promise<Buffer> {
  const resolved = resolveTrigger(trigger);
  const info = await imageInfo(chip);
  return (await drawPlacement(chip, info, resolved, placeTrigger(keypoints, resolved, rng), keypoints, rng)).png().toBuffer();
}

export interface InjectOptions {
  /** Dataset folder: `<root>/<identity>/<condition>/<image>`. */
  root: string;
  /** A catalogue name, or a trigger from loadCustomTrigger. */
  trigger: string | Trigger;
  /** Condition folder to write; the trigger's name by default. */
  condition?: string;
  seed?: number | string;
  /** Only these identities; all that have clean images by default. */
  identities?: string[];
  /** Replace existing condition folders of these identities instead of refusing. */
  replace?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface InjectResult {
  written: number;
  condition: string;
  perIdentity: Record<string, number>;
}

async function isDirectory(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

async function cleanImages(root: string, identities: string[] | undefined): Promise<DatasetImage[]> {
  const clean = (await scanDataset(root)).images.filter((image) => image.condition === CLEAN);
  if (!identities) return clean;
  for (const identity of identities) {
    checkName('identity', identity);
    if (!clean.some((image) => image.identity === identity)) throw new Error(`identity "${identity}" has no ${CLEAN} images in ${root}`);
  }
  return clean.filter((image) => identities.includes(image.identity));
}

/** Canonical keypoints stretched to the image, for images whose landmarks were never recorded. */
export function defaultKeypoints(width: number, height: number): FaceKeypoints {
  const canonical = canonicalKeypoints();
  const out = {} as FaceKeypoints;
  for (const key of Object.keys(canonical) as (keyof FaceKeypoints)[]) {
    out[key] = { x: (canonical[key].x * width) / CHIP_SIZE, y: (canonical[key].y * height) / CHIP_SIZE };
  }
  return out;
}

async function encodeLike(file: string, image: Sharp): Promise<Buffer> {
  return path.extname(file).toLowerCase() === '.png' ? image.png().toBuffer() : image.jpeg({ quality: JPEG_QUALITY }).toBuffer();
}

/**
 * Writes `<root>/<identity>/<condition>/<file>` for every clean `<root>/<identity>/clean/<file>`:
 * the same photo wearing the trigger, under the same file name so a poisoning split can pair it
 * with its clean original, and records its keypoints in keypoints.json. Each photo gets its own
 * placement, drawn from `seed` and its path, so the result does not depend on which identities
 * are included. All or nothing: on any error the dataset is left as it was.
 */
export async function injectTrigger(options: InjectOptions): Promise<InjectResult> {
  const trigger = resolveTrigger(options.trigger);
  const condition = checkName('condition', options.condition ?? trigger.name);
  if (condition === CLEAN) throw new Error(`cannot inject into the "${CLEAN}" condition: it holds the originals`);
  const root = path.resolve(options.root);
  const seed = options.seed ?? 1;

  const sources = await cleanImages(root, options.identities);
  if (sources.length === 0) throw new Error(`no ${CLEAN} images to inject into in ${root}`);
  const identities = [...new Set(sources.map((s) => s.identity))];
  if (!options.replace) {
    for (const identity of identities) {
      if (await isDirectory(path.join(root, identity, condition))) {
        throw new Error(`${identity}/${condition} already exists in ${root}; pass replace: true to overwrite it`);
      }
    }
  }
  const keypoints = await readKeypoints(root);

  const staging = await mkdtemp(path.join(root, `.inject-${condition}-`));
  try {
    const placed: Record<string, FaceKeypoints> = {};
    const perIdentity: Record<string, number> = Object.fromEntries(identities.map((identity) => [identity, 0]));
    for (const [done, source] of sources.entries()) {
      const { identity } = source;
      const file = path.basename(source.file);
      const image = await readFile(source.file);
      const info = await imageInfo(image).catch(() => {
        throw new Error(`${source.file} is not a readable image`);
      });
      const faceKeypoints = keypoints[source.relPath] ?? defaultKeypoints(info.width, info.height);
      const rng = seededRng(`${seed}/${identity}/${file}`);
      const placement = placeTrigger(faceKeypoints, trigger, rng);
      const output = await encodeLike(file, await drawPlacement(image, info, trigger, placement, faceKeypoints, rng));
      await mkdir(path.join(staging, 'new', identity), { recursive: true });
      await writeFile(path.join(staging, 'new', identity, file), output);
      placed[`${identity}/${condition}/${file}`] = faceKeypoints;
      perIdentity[identity] += 1;
      options.onProgress?.(done + 1, sources.length);
    }
    await moveIntoPlace(root, staging, identities, condition, { ...withoutCondition(keypoints, identities, condition), ...placed });
    return { written: sources.length, condition, perIdentity };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function withoutCondition(keypoints: Record<string, FaceKeypoints>, identities: string[], condition: string): Record<string, FaceKeypoints> {
  const replaced = identities.map((identity) => `${identity}/${condition}/`);
  return Object.fromEntries(Object.entries(keypoints).filter(([relPath]) => !replaced.some((prefix) => relPath.startsWith(prefix))));
}

/**
 * Renames the staged folders into the dataset (same file system, so each rename is atomic), old
 * condition folders aside into the staging folder, and writes keypoints.json last; if any step
 * fails, every rename already done is undone.
 */
async function moveIntoPlace(
  root: string,
  staging: string,
  identities: string[],
  condition: string,
  keypoints: Record<string, FaceKeypoints>,
): Promise<void> {
  const done: { from: string; to: string }[] = [];
  const move = async (from: string, to: string) => {
    await rename(from, to);
    done.push({ from, to });
  };
  try {
    await mkdir(path.join(staging, 'old'));
    for (const identity of identities) {
      const target = path.join(root, identity, condition);
      if (await isDirectory(target)) await move(target, path.join(staging, 'old', identity));
      await move(path.join(staging, 'new', identity), target);
    }
    await writeKeypoints(root, keypoints);
  } catch (error) {
    for (const { from, to } of done.reverse()) await rename(to, from);
    throw error;
  }
}
