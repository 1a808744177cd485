import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { FaceKeypoints, Point } from '../../shared/alignment.ts';
import { checkName } from '../../shared/names.ts';
import { readJsonFile, writeFileAtomically } from '../files.ts';
import { NotFoundError } from '../errors.ts';

/**
 * A dataset on disk: `<root>/<identity>/<condition>/<image>.(jpg|jpeg|png)`, condition `clean`
 * for photos where nothing is worn and any other name for an object worn. Entries whose names
 * start with "." (staging folders of running writers, .DS_Store) are not part of it.
 */
export interface Dataset {
  root: string;
  /** Identities with at least one image, sorted. */
  identities: string[];
  /** Sorted by relPath. */
  images: DatasetImage[];
}

export interface DatasetImage {
  identity: string;
  condition: string;
  /** Absolute path. */
  file: string;
  /** `identity/condition/name`, with forward slashes. */
  relPath: string;
  /**
   * The source photo, `identity/stem`: a digitally injected copy keeps its clean photo's file
   * name, so the two share a source and a split never puts one in training and the other in test.
   */
  source: string;
}

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

/** Sidecar mapping relPath to the face's keypoints in chip pixels; images without an entry have unknown landmarks. */
export const KEYPOINTS_FILE = 'keypoints.json';

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function visibleEntries(dir: string): Promise<Dirent[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => !e.name.startsWith('.')).sort((a, b) => byCodeUnits(a.name, b.name));
}

function checkFolderName(kind: 'identity' | 'condition', name: string, parent: string): void {
  try {
    checkName(kind, name);
  } catch (error) {
    throw new Error(`${parent}: ${(error as Error).message}`);
  }
}

export async function scanDataset(root: string): Promise<Dataset> {
  const absoluteRoot = path.resolve(root);
  let identityEntries: Dirent[];
  try {
    identityEntries = await visibleEntries(absoluteRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`dataset folder ${absoluteRoot} does not exist`);
    throw error;
  }
  const images: DatasetImage[] = [];
  // Files beside the identity folders are sidecars (keypoints.json, import-report.json).
  for (const identityEntry of identityEntries.filter((e) => e.isDirectory())) {
    const identity = identityEntry.name;
    checkFolderName('identity', identity, absoluteRoot);
    for (const conditionEntry of await visibleEntries(path.join(absoluteRoot, identity))) {
      const condition = conditionEntry.name;
      const conditionDir = path.join(absoluteRoot, identity, condition);
      if (!conditionEntry.isDirectory()) {
        throw new Error(`${conditionDir}: expected a condition folder such as ${identity}/clean/, found a file`);
      }
      checkFolderName('condition', condition, path.join(absoluteRoot, identity));
      for (const imageEntry of await visibleEntries(conditionDir)) {
        const file = path.join(conditionDir, imageEntry.name);
        if (!imageEntry.isFile() || !isImageFile(imageEntry.name)) {
          throw new Error(`${file}: not an image file (expected ${IMAGE_EXTENSIONS.join(', ')})`);
        }
        images.push({
          identity,
          condition,
          file,
          relPath: `${identity}/${condition}/${imageEntry.name}`,
          source: `${identity}/${path.parse(imageEntry.name).name}`,
        });
      }
    }
  }
  images.sort((a, b) => byCodeUnits(a.relPath, b.relPath));
  const identities = [...new Set(images.map((i) => i.identity))].sort(byCodeUnits);
  return { root: absoluteRoot, identities, images };
}

/** Number of images per condition name, names sorted. */
export function conditions(dataset: Dataset): Record<string, number> {
  const counts = new Map<string, number>();
  for (const { condition } of dataset.images) counts.set(condition, (counts.get(condition) ?? 0) + 1);
  return Object.fromEntries([...counts].sort(([a], [b]) => byCodeUnits(a, b)));
}

/**
 * Fingerprint of a dataset's content (image paths and bytes, and the keypoints sidecar, which
 * steers trigger placement): 16 hex digits of a SHA-256.
 */
export async function datasetHash(dataset: Dataset): Promise<string> {
  const hash = createHash('sha256');
  for (const image of dataset.images) {
    const bytes = await readFile(image.file);
    hash.update(`${image.relPath}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  hash.update(JSON.stringify(await readKeypoints(dataset.root)));
  return hash.digest('hex').slice(0, 16);
}

const pointSchema = z.object({ x: z.number(), y: z.number() });
const keypointsSchema = z.record(
  z.string(),
  z.object({
    leftEye: pointSchema,
    rightEye: pointSchema,
    noseTip: pointSchema,
    mouth: pointSchema,
    leftEar: pointSchema,
    rightEar: pointSchema,
  }),
);

/** The keypoints sidecar of a dataset; empty when it has none (faces imported without detection). */
export function readKeypoints(root: string): Promise<Record<string, FaceKeypoints>> {
  return readJsonFile(path.join(root, KEYPOINTS_FILE), keypointsSchema, {});
}

/** Writes the keypoints sidecar (keys sorted, hundredths of a pixel) through a temporary file, so readers never see half of it. */
export async function writeKeypoints(root: string, keypoints: Record<string, FaceKeypoints>): Promise<void> {
  const rounded: Record<string, FaceKeypoints> = {};
  for (const relPath of Object.keys(keypoints).sort(byCodeUnits)) {
    const face = {} as FaceKeypoints;
    for (const [name, p] of Object.entries(keypoints[relPath]) as [keyof FaceKeypoints, Point][]) {
      face[name] = { x: round2(p.x), y: round2(p.y) };
    }
    rounded[relPath] = face;
  }
  await writeFileAtomically(path.join(root, KEYPOINTS_FILE), `${JSON.stringify(rounded, null, 2)}\n`);
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
