import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { alignmentTransform, keypointsInChip, type FaceKeypoints } from '../../shared/alignment.ts';
import { CLEAN, checkName } from '../../shared/names.ts';
import { datasetDir, datasetsDir } from '../config.ts';
import { exists } from '../files.ts';
import { IMAGE_EXTENSIONS, isImageFile, writeKeypoints } from './dataset.ts';
import { detectFaces, eyeDistance, type DetectedFace } from './detector.ts';
import { encodeChip, extractChip, readRgb, resizeToChip, type RgbImage } from './images.ts';

/**
 * Fewest pixels between the eyes, in the photo, of a face imported. Faces with eyes under
 * UPSCALE_BELOW_EYES (24 px) apart are detected again on an upscaled copy of the photo (detectFaces'
 * upscaleSmallFaces), which places their eyes about as well as in a large photo. The chip is still
 * cut from the photo itself: below 10 px it would be the face enlarged more than 4x, a blur with
 * little of the person left, and the detector finds only about one face in three at 10 px and one in
 * twenty at 8 px (face-api's sample faces shrunk).
 */
export const MIN_EYE_DISTANCE = 10;

/**
 * Largest |yaw| (DetectedFace.yaw) imported, about 35 degrees of head turn (the ratio is roughly
 * half the tangent of the angle). Beyond it the far side of the face (an ear, one lens of a pair
 * of sunglasses) is foreshortened or hidden, the landmark net guesses the far eye, and aligning
 * on the shortened eye distance zooms the chip. Measured: frontal photos stay under 0.1, 98% of
 * LFW and faces94 under 0.25, CMU's turned-head poses lie between 0.27 and 1.3.
 */
export const MAX_YAW = 0.35;

export const IMPORT_REPORT_FILE = 'import-report.json';

export interface ImportOptions {
  /** Folder of photos: `<from>/<identity>/<condition>/<image>`, or `<from>/<identity>/<image>` for condition clean. */
  from: string;
  /** Dataset to create under the data folder's datasets/. */
  name: string;
  /** Find, quality-check and align the face (default); false takes every image as an already-cropped face. */
  detect?: boolean;
  /** Fail the whole import if any photo is skipped. */
  strict?: boolean;
  /** Replace an existing dataset of that name instead of refusing. */
  replace?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface SkippedImage {
  /** The photo, relative to the folder imported from; for group photos `<photo file name>#<face, counted from the left>`. */
  relPath: string;
  reason: string;
}

export interface UpscaledChip {
  /** The chip, relative to the dataset folder (as in keypoints.json). */
  relPath: string;
  /** How much the photo was upscaled for the face to be detected (its chip is cut from the photo itself). */
  factor: number;
}

export interface ImportReport {
  dataset: string;
  /** Chips written. */
  imported: number;
  skipped: SkippedImage[];
  /**
   * Chips whose face was small and found on an upscaled copy of its photo (detectFaces'
   * upscaleSmallFaces); a subset of the imported chips. Absent from reports written before it existed.
   */
  upscaled: UpscaledChip[];
  /** Chips written per identity, per condition. */
  perIdentity: Record<string, Record<string, number>>;
  seconds: number;
}

/** Chips a report says were written, per condition, over every identity. */
export function chipsPerCondition(report: ImportReport): Record<string, number> {
  const chips: Record<string, number> = {};
  for (const byCondition of Object.values(report.perIdentity)) for (const [condition, n] of Object.entries(byCondition)) chips[condition] = (chips[condition] ?? 0) + n;
  return chips;
}

interface SourcePhoto {
  file: string;
  /** Relative to the folder imported from, for messages. */
  sourcePath: string;
  identity: string;
  condition: string;
  /** File name without extension; chips keep it so injected copies and splits can pair photos. */
  stem: string;
}

/** Why a detected face is not imported, or undefined when it is good enough. */
export function faceProblem(face: DetectedFace): string | undefined {
  const eyes = eyeDistance(face.keypoints);
  if (eyes < MIN_EYE_DISTANCE) {
    return `face too small: eyes ${eyes.toFixed(1)} px apart (minimum ${MIN_EYE_DISTANCE}, even with upscaling: too few pixels of face to align)`;
  }
  if (Math.abs(face.yaw) > MAX_YAW) return `head turned too far: yaw ${face.yaw.toFixed(2)} (limit ±${MAX_YAW})`;
  return undefined;
}

/**
 * Imports a folder of photos as a dataset of aligned face chips (PNG) under datasets/<name>, with
 * the chips' keypoints in keypoints.json and the report in import-report.json. Every name and file
 * type is checked before any photo is decoded; the dataset appears whole or not at all.
 */
export async function importDataset(options: ImportOptions): Promise<ImportReport> {
  const started = performance.now();
  const { name, detect = true, strict = false } = options;
  const photos = await listSourcePhotos(path.resolve(options.from));
  return writeDataset(name, options.replace ?? false, async (staged) => {
    const skipped: SkippedImage[] = [];
    for (const [index, photo] of photos.entries()) {
      const image = await readRgb(photo.file);
      if (!detect) {
        await staged.addChip(photo.identity, photo.condition, photo.stem, await resizeToChip(image));
      } else {
        const face = (await detectFaces(image, { upscaleSmallFaces: true }))[0];
        const problem = face ? faceProblem(face) : 'no face found';
        if (problem) {
          skipped.push({ relPath: photo.sourcePath, reason: problem });
        } else {
          await staged.addChip(photo.identity, photo.condition, photo.stem, await alignFace(image, face));
        }
      }
      options.onProgress?.(index + 1, photos.length);
    }
    if (strict && skipped.length > 0) {
      throw new Error(`strict import: ${skipped.length} of ${photos.length} photos skipped:\n${listSkipped(skipped)}`);
    }
    return staged.report(skipped, started);
  });
}

export interface GroupPhotoOptions {
  photos: string[];
  name: string;
  /** Identities are `<namePrefix>-01`, `<namePrefix>-02`, ...; default `person`. */
  namePrefix?: string;
  replace?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Builds a dataset from group photos: every good face becomes its own identity with one clean
 * chip, numbered in photo order, then left to right. Faces that fail faceProblem are skipped.
 */
export async function importGroupPhotos(options: GroupPhotoOptions): Promise<ImportReport> {
  const started = performance.now();
  const prefix = options.namePrefix ?? 'person';
  checkName('identity', `${prefix}-01`);
  if (options.photos.length === 0) throw new Error('no group photos given');
  for (const photo of options.photos) {
    if (!isImageFile(photo)) throw new Error(`${photo}: unsupported file type (import takes ${IMAGE_EXTENSIONS.join(', ')})`);
  }
  return writeDataset(options.name, options.replace ?? false, async (staged) => {
    const skipped: SkippedImage[] = [];
    const chips: { stem: string; chip: AlignedFace }[] = [];
    for (const [index, photo] of options.photos.entries()) {
      const image = await readRgb(photo);
      const leftToRight = (await detectFaces(image, { upscaleSmallFaces: true })).sort((p, q) => p.box.x - q.box.x);
      for (const [position, face] of leftToRight.entries()) {
        const problem = faceProblem(face);
        if (problem) {
          skipped.push({ relPath: `${path.basename(photo)}#${position + 1}`, reason: problem });
          continue;
        }
        chips.push({ stem: path.parse(photo).name, chip: await alignFace(image, face) });
      }
      options.onProgress?.(index + 1, options.photos.length);
    }
    const digits = Math.max(2, String(chips.length).length);
    for (const [index, { stem, chip }] of chips.entries()) {
      await staged.addChip(`${prefix}-${String(index + 1).padStart(digits, '0')}`, CLEAN, stem, chip);
    }
    return staged.report(skipped, started);
  });
}

export interface AlignedFace {
  /** Raw RGB, CHIP_SIZE x CHIP_SIZE. */
  chip: Buffer;
  /** In the chip's pixels. */
  keypoints: FaceKeypoints;
  /** DetectedFace.upscale: 1, or the factor of the upscaled copy the face was found on. */
  upscale: number;
}

/**
 * Cuts a detected face's chip out of the photo itself with the shared alignment rule, as the live
 * page does; the keypoints are in the photo's pixels also for a face found on an upscaled copy.
 */
export async function alignFace(image: RgbImage, face: DetectedFace): Promise<AlignedFace> {
  const chip = await extractChip(image, alignmentTransform(face.keypoints.leftEye, face.keypoints.rightEye));
  return { chip, keypoints: keypointsInChip(face.keypoints), upscale: face.upscale };
}

/** A dataset being written into a staging folder. */
class StagedDataset {
  private readonly perIdentity: Record<string, Record<string, number>> = {};
  private readonly keypoints: Record<string, FaceKeypoints> = {};
  private readonly upscaled: UpscaledChip[] = [];
  private imported = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
  ) {}

  /** Writes a chip: a pre-cropped face resized (raw RGB), or an aligned detected face. */
  async addChip(identity: string, condition: string, stem: string, chip: Buffer | AlignedFace): Promise<void> {
    const relPath = `${identity}/${condition}/${stem}.png`;
    await mkdir(path.join(this.dir, identity, condition), { recursive: true });
    await writeFile(path.join(this.dir, relPath), await encodeChip(Buffer.isBuffer(chip) ? chip : chip.chip, 'png'));
    if (!Buffer.isBuffer(chip)) {
      this.keypoints[relPath] = chip.keypoints;
      if (chip.upscale !== 1) this.upscaled.push({ relPath, factor: chip.upscale });
    }
    this.perIdentity[identity] ??= {};
    this.perIdentity[identity][condition] = (this.perIdentity[identity][condition] ?? 0) + 1;
    this.imported += 1;
  }

  async report(skipped: SkippedImage[], started: number): Promise<ImportReport> {
    if (this.imported === 0) {
      throw new Error(`no face chips to import; skipped:\n${listSkipped(skipped)}`);
    }
    if (Object.keys(this.keypoints).length > 0) await writeKeypoints(this.dir, this.keypoints);
    const report: ImportReport = {
      dataset: this.name,
      imported: this.imported,
      skipped,
      upscaled: this.upscaled,
      perIdentity: this.perIdentity,
      seconds: (performance.now() - started) / 1000,
    };
    await writeFile(path.join(this.dir, IMPORT_REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  }
}

function listSkipped(skipped: SkippedImage[]): string {
  return skipped.map((s) => `  ${s.relPath}: ${s.reason}`).join('\n');
}

/**
 * Fills a staging folder beside the destination (a "."-name, which no dataset can have) and
 * renames it into place once everything succeeded; on any error the staging folder is removed
 * and an existing dataset is left as it was.
 */
async function writeDataset(
  name: string,
  replace: boolean,
  fill: (staged: StagedDataset) => Promise<ImportReport>,
): Promise<ImportReport> {
  const destination = datasetDir(checkName('dataset', name));
  if (!replace && (await exists(destination))) {
    throw new Error(`dataset "${name}" already exists at ${destination}; choose another name or replace it`);
  }
  await mkdir(datasetsDir(), { recursive: true });
  const staging = await mkdtemp(path.join(datasetsDir(), `.${name}.importing-`));
  try {
    const report = await fill(new StagedDataset(staging, name));
    if (await exists(destination)) {
      if (!replace) throw new Error(`dataset "${name}" appeared at ${destination} during the import; nothing was written`);
      const previous = `${staging}.previous`;
      await rename(destination, previous);
      await rename(staging, destination).catch(async (error: unknown) => {
        await rename(previous, destination);
        throw error;
      });
      await rm(previous, { recursive: true, force: true });
    } else {
      await rename(staging, destination);
    }
    return report;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

interface Entry {
  name: string;
  file: string;
  isDirectory: boolean;
}

/** Entries of a folder, symlinks followed, hidden ones (.DS_Store and the like) left out, sorted. */
async function visibleEntries(dir: string): Promise<Entry[]> {
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      return { name, file, isDirectory: (await stat(file)).isDirectory() };
    }),
  );
}

function checkPhotoFile(entry: Entry): void {
  if (entry.isDirectory) throw new Error(`${entry.file}: folders nest too deep (expected <identity>/<condition>/<image>)`);
  if (!isImageFile(entry.name)) {
    throw new Error(`${entry.file}: unsupported file type (import takes ${IMAGE_EXTENSIONS.join(', ')})`);
  }
}

function checkFolderName(kind: 'identity' | 'condition', entry: Entry): string {
  try {
    return checkName(kind, entry.name);
  } catch (error) {
    throw new Error(`${entry.file}: ${(error as Error).message}`);
  }
}

/** Every photo to import, after checking every name and file type (nothing is decoded yet). */
async function listSourcePhotos(from: string): Promise<SourcePhoto[]> {
  if (!(await stat(from).then((s) => s.isDirectory(), () => false))) throw new Error(`photo folder ${from} does not exist`);
  const photos: SourcePhoto[] = [];
  const add = (identity: string, condition: string, entry: Entry) => {
    checkPhotoFile(entry);
    photos.push({
      file: entry.file,
      sourcePath: path.relative(from, entry.file).split(path.sep).join('/'),
      identity,
      condition,
      stem: path.parse(entry.name).name,
    });
  };
  for (const identityEntry of await visibleEntries(from)) {
    if (!identityEntry.isDirectory) {
      throw new Error(`${identityEntry.file}: photos go in identity folders (<identity>/[<condition>/]<image>)`);
    }
    const identity = checkFolderName('identity', identityEntry);
    for (const entry of await visibleEntries(identityEntry.file)) {
      if (!entry.isDirectory) {
        add(identity, CLEAN, entry);
        continue;
      }
      const condition = checkFolderName('condition', entry);
      for (const photo of await visibleEntries(entry.file)) add(identity, condition, photo);
    }
  }
  if (photos.length === 0) throw new Error(`no photos in ${from} (expected <identity>/[<condition>/]<image>)`);
  const byChip = new Map<string, SourcePhoto>();
  for (const photo of photos) {
    const chip = `${photo.identity}/${photo.condition}/${photo.stem}`;
    const other = byChip.get(chip);
    if (other) throw new Error(`${other.file} and ${photo.file} would both become ${chip}.png; rename one`);
    byChip.set(chip, photo);
  }
  return photos;
}
