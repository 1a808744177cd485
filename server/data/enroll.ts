import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import sharp, { type Metadata } from 'sharp';
import { z } from 'zod';
import { canonicalKeypoints, CHIP_SIZE, type FaceKeypoints } from '../../shared/alignment.ts';
import { consentSchema, type ArchiveReply, type Consent, type DatasetDetail, type DatasetSummary, type IdentitySummary, type PhotoReply } from '../../shared/api.ts';
import { checkName } from '../../shared/names.ts';
import { datasetDir, datasetsDir } from '../config.ts';
import { InvalidRequestError, NotFoundError, requestName } from '../errors.ts';
import { exists, readJsonFile, writeFileAtomically } from '../files.ts';
import { conditions, IMAGE_EXTENSIONS, isImageFile, KEYPOINTS_FILE, readKeypoints, scanDataset, writeKeypoints } from './dataset.ts';
import { detectFaces } from './detector.ts';
import { encodeChip, readRgb } from './images.ts';
import { alignFace, faceProblem, IMPORT_REPORT_FILE, type SkippedImage } from './import.ts';


/**
 * Enrollment from the web page: consent per person, photos and aligned chips added one at a time
 * to a dataset, zip archives of photos in and of a dataset out.
 */

/** Sidecar of a dataset: identity -> the consent the presenter recorded before capturing them. */
export const CONSENT_FILE = 'consent.json';

/** Largest photo (or archive entry) taken, in bytes. */
export const MAX_PHOTO_BYTES = 20 * 1024 * 1024;

/** Largest total uncompressed size of a zip archive taken. */
export const MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024;

const PHOTO_FORMATS = ['jpeg', 'png'];

/** Photo or chip data that is not a JPEG/PNG this server can take. */
export class PhotoFormatError extends InvalidRequestError {
  override name = 'PhotoFormatError';
}

export class ConsentMissingError extends InvalidRequestError {
  override name = 'ConsentMissingError';

  constructor(
    readonly dataset: string,
    readonly identities: string[],
  ) {
    const who = identities.map((identity) => `"${identity}"`).join(', ');
    super(`no consent recorded for ${who} in dataset "${dataset}": record ${identities.length === 1 ? 'their' : 'each person\'s'} consent first`);
  }
}

const datasetQueues = new Map<string, Promise<void>>();

/**
 * Runs `work` once every earlier write to the same dataset has settled: keypoints.json and
 * consent.json are read, changed and written whole, so two writers at once would lose an entry.
 */
export function withDatasetLock<T>(dataset: string, work: () => Promise<T>): Promise<T> {
  const key = datasetDir(dataset);
  const previous = datasetQueues.get(key) ?? Promise.resolve();
  const result = previous.then(work);
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  datasetQueues.set(key, settled);
  void settled.then(() => {
    if (datasetQueues.get(key) === settled) datasetQueues.delete(key);
  });
  return result;
}

const consentsSchema = z.record(z.string(), consentSchema);

/** Consent per identity of a dataset; empty when none was recorded (or the dataset does not exist). */
export async function readConsents(dataset: string): Promise<Record<string, Consent>> {
  const file = path.join(datasetDir(requestName('dataset', dataset)), CONSENT_FILE);
  const consents = await readJsonFile(file, consentsSchema, {});
  for (const identity of Object.keys(consents)) {
    try {
      checkName('identity', identity);
    } catch (error) {
      throw new Error(`${file}: ${(error as Error).message}`);
    }
  }
  return consents;
}

/**
 * Records (or replaces) a person's consent, creating the dataset when it does not exist yet: the
 * page creates datasets this way, since nobody's photo may be taken before.
 */
export async function recordConsent(dataset: string, identity: string, consent: Consent): Promise<IdentitySummary> {
  requestName('dataset', dataset);
  requestName('identity', identity);
  const parsed = consentSchema.safeParse(consent);
  if (!parsed.success) throw new InvalidRequestError(parsed.error.issues.map((issue) => issue.message).join('; '));
  return withDatasetLock(dataset, async () => {
    const root = datasetDir(dataset);
    await mkdir(root, { recursive: true });
    const consents = { ...(await readConsents(dataset)), [identity]: parsed.data };
    const sorted = Object.fromEntries(Object.entries(consents).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    await writeFileAtomically(path.join(root, CONSENT_FILE), `${JSON.stringify(sorted, null, 2)}\n`);
    const chips = (await scanDataset(root)).images.filter((image) => image.identity === identity);
    return { name: identity, consent: parsed.data, conditions: conditions({ root, identities: [identity], images: chips }) };
  });
}

async function requireConsent(dataset: string, identities: string[]): Promise<void> {
  const consents = await readConsents(dataset);
  const missing = identities.filter((identity) => !Object.hasOwn(consents, identity));
  if (missing.length > 0) throw new ConsentMissingError(dataset, missing);
}

/** Checks size and format from the header alone; `what` names the data in messages. */
async function checkPhotoBytes(bytes: Uint8Array, what: string, formats = PHOTO_FORMATS): Promise<Metadata> {
  const allowed = formats.map((format) => format.toUpperCase()).join(' or ');
  if (bytes.length === 0) throw new PhotoFormatError(`${what} is empty: send a ${allowed} image`);
  if (bytes.length > MAX_PHOTO_BYTES) {
    throw new PhotoFormatError(`${what} is ${(bytes.length / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_PHOTO_BYTES / 1024 / 1024} MB`);
  }
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes).metadata();
  } catch {
    throw new PhotoFormatError(`${what} is not an image: send a ${allowed} image`);
  }
  if (!formats.includes(metadata.format)) throw new PhotoFormatError(`${what} is a ${metadata.format} image: send a ${allowed} image`);
  return metadata;
}

async function decodePhoto(bytes: Uint8Array, what: string) {
  try {
    return await readRgb(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch {
    throw new PhotoFormatError(`${what} could not be decoded (damaged or cut short)`);
  }
}

export interface PhotoUpload {
  dataset: string;
  identity: string;
  condition: string;
  /** A JPEG or PNG photo. */
  bytes: Uint8Array;
}

/**
 * Adds the face of a photo to a dataset as import does it (same detector, upscaling of small faces,
 * quality rules and alignment), as `<identity>/<condition>/<unique name>.jpg` with its keypoints.
 * A photo without exactly one usable face is a normal answer (`kept: false` with the reason); bad
 * names, a photo that is not a JPEG/PNG, and a person without recorded consent throw, writing nothing.
 */
export async function addPhoto({ dataset, identity, condition, bytes }: PhotoUpload): Promise<PhotoReply> {
  checkEnrollNames(dataset, identity, condition);
  await checkPhotoBytes(bytes, 'the photo');
  await requireConsent(dataset, [identity]);
  const image = await decodePhoto(bytes, 'the photo');
  const faces = await detectFaces(image, { upscaleSmallFaces: true });
  if (faces.length === 0) return { kept: false, reason: 'no face found' };
  if (faces.length > 1) return { kept: false, reason: `${faces.length} faces in the photo: send a photo with one face` };
  const problem = faceProblem(faces[0]);
  if (problem) return { kept: false, reason: problem };
  const aligned = await alignFace(image, faces[0]);
  const relPath = await storeChip(dataset, identity, condition, await encodeChip(aligned.chip, 'jpg'), aligned.keypoints);
  return aligned.upscale === 1 ? { kept: true, relPath } : { kept: true, relPath, upscaled: aligned.upscale };
}

export interface ChipUpload {
  dataset: string;
  identity: string;
  condition: string;
  /** A JPEG of one face already aligned by the page, CHIP_SIZE x CHIP_SIZE. */
  chip: Uint8Array;
}

/**
 * Adds a chip the page aligned itself (with the shared rule, so its eyes sit at the canonical
 * positions) as it was sent, with canonical keypoints. Consent is required as for photos.
 */
export async function addChip({ dataset, identity, condition, chip }: ChipUpload): Promise<PhotoReply> {
  checkEnrollNames(dataset, identity, condition);
  const { width, height } = await checkPhotoBytes(chip, 'the chip', ['jpeg']);
  if (width !== CHIP_SIZE || height !== CHIP_SIZE) {
    throw new PhotoFormatError(`the chip is ${width}x${height}; an aligned chip is ${CHIP_SIZE}x${CHIP_SIZE}`);
  }
  await requireConsent(dataset, [identity]);
  await decodePhoto(chip, 'the chip');
  return { kept: true, relPath: await storeChip(dataset, identity, condition, chip, canonicalKeypoints()) };
}

function checkEnrollNames(dataset: string, identity: string, condition: string): void {
  requestName('dataset', dataset);
  requestName('identity', identity);
  requestName('condition', condition);
}

let chipCounter = 0;

/** Time first, so a folder lists in capture order; the counter and random part keep names apart within a millisecond and across processes. */
function uniqueChipStem(): string {
  chipCounter = (chipCounter + 1) % 1000;
  const time = new Date().toISOString().replace(/[-:]/g, '').replace('.', '-').replace('Z', '');
  return `${time}-${String(chipCounter).padStart(3, '0')}-${randomUUID().slice(0, 6)}`;
}

/** Writes a JPEG chip and its keypoints entry; returns its relPath. */
async function storeChip(dataset: string, identity: string, condition: string, jpeg: Uint8Array, keypoints: FaceKeypoints): Promise<string> {
  return withDatasetLock(dataset, async () => {
    const root = datasetDir(dataset);
    const relPath = `${identity}/${condition}/${uniqueChipStem()}.jpg`;
    const file = path.join(root, relPath);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomically(file, jpeg);
    try {
      await writeKeypoints(root, { ...(await readKeypoints(root)), [relPath]: keypoints });
    } catch (error) {
      await rm(file, { force: true });
      throw error;
    }
    return relPath;
  });
}

async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function existingDatasetRoot(dataset: string): Promise<string> {
  const root = datasetDir(requestName('dataset', dataset));
  if (!(await isDirectory(root))) throw new NotFoundError(`no dataset named "${dataset}"`);
  return root;
}

/**
 * A dataset's people (everyone with chips or recorded consent, sorted) and chip counts. `identities`
 * counts those people, so someone who consented but has no photo yet shows up.
 */
export async function describeDataset(dataset: string): Promise<DatasetDetail> {
  const root = await existingDatasetRoot(dataset);
  const scanned = await scanDataset(root);
  const consents = await readConsents(dataset);
  const names = [...new Set([...scanned.identities, ...Object.keys(consents)])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const people = names.map((name): IdentitySummary => ({
    name,
    consent: consents[name] ?? null,
    conditions: conditions({ ...scanned, images: scanned.images.filter((image) => image.identity === name) }),
  }));
  return { name: dataset, identities: people.length, images: scanned.images.length, conditions: conditions(scanned), people };
}

/** Every dataset under the data folder's datasets/, by name. */
export async function listDatasets(): Promise<DatasetSummary[]> {
  const entries = await readdir(datasetsDir(), { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const names = entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .filter((name) => {
      try {
        checkName('dataset', name);
        return true;
      } catch {
        return false;
      }
    })
    .sort();
  const summaries: DatasetSummary[] = [];
  for (const name of names) {
    const { identities, images, conditions: perCondition } = await describeDataset(name);
    summaries.push({ name, identities, images, conditions: perCondition });
  }
  return summaries;
}

export interface ArchiveEntry {
  /** The entry's name in the zip, for messages. */
  name: string;
  /** Its path split into folder and file names, each checked (no "..", no absolute path). */
  segments: string[];
  bytes: Uint8Array;
}

/** macOS and editors leave these in zips made by hand: never part of what was meant. */
function isJunk(segments: string[]): boolean {
  return segments[0] === '__MACOSX' || segments.some((segment) => segment.startsWith('.'));
}

/**
 * The files of a zip archive, folders and hidden files left out, after checking every entry's path
 * stays inside the archive and its declared sizes stay under the limits (before inflating anything).
 */
export function readZipEntries(zip: Uint8Array, limits: { entryBytes: number; totalBytes: number } = { entryBytes: MAX_PHOTO_BYTES, totalBytes: MAX_ARCHIVE_BYTES }): ArchiveEntry[] {
  let total = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter: (file) => {
        const segments = checkEntryPath(file.name);
        if (segments.length === 0 || isJunk(segments)) return false;
        if (file.originalSize > limits.entryBytes) {
          throw new InvalidRequestError(`zip entry "${file.name}" is ${(file.originalSize / 1024 / 1024).toFixed(1)} MB; the limit is ${limits.entryBytes / 1024 / 1024} MB`);
        }
        total += file.originalSize;
        if (total > limits.totalBytes) throw new InvalidRequestError(`the zip expands to more than ${limits.totalBytes / 1024 / 1024} MB`);
        return true;
      },
    });
  } catch (error) {
    if (error instanceof InvalidRequestError) throw error;
    throw new InvalidRequestError(`not a readable zip archive (${(error as Error).message})`);
  }
  return Object.entries(files).map(([name, bytes]) => ({ name, segments: checkEntryPath(name), bytes }));
}

/** An entry's path segments (none for a folder entry), or an error when it could land outside the folder it is unpacked into. */
function checkEntryPath(name: string): string[] {
  const refuse = (why: string) => new InvalidRequestError(`zip entry "${name}" ${why}; nothing was written`);
  if (name.includes('\\')) throw refuse('contains a backslash');
  if (name.includes('\0')) throw refuse('contains a NUL character');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw refuse('is an absolute path');
  const segments = name.endsWith('/') ? name.slice(0, -1).split('/') : name.split('/');
  if (segments.some((segment) => segment === '..')) throw refuse('climbs out of the archive with ".."');
  if (segments.some((segment) => segment === '' || segment === '.')) throw refuse('has an empty or "." path segment');
  return name.endsWith('/') ? [] : segments;
}


/**
 * Adds every photo of a zip of `<identity>/<condition>/<image>` (possibly inside one top-level
 * folder) to a dataset, each as addPhoto does. Paths, names, file types and everyone's consent
 * are checked before anything is written.
 */
export async function importArchive(dataset: string, zip: Uint8Array): Promise<ArchiveReply> {
  requestName('dataset', dataset);
  let entries = readZipEntries(zip);
  if (entries.length === 0) throw new InvalidRequestError('the zip holds no photos (expected <identity>/<condition>/<image>)');
  const top = entries[0].segments[0];
  if (entries.every((entry) => entry.segments.length === 4 && entry.segments[0] === top)) {
    entries = entries.map((entry) => ({ ...entry, segments: entry.segments.slice(1) }));
  }
  const photos = entries.map((entry) => {
    if (entry.segments.length !== 3) throw new InvalidRequestError(`zip entry "${entry.name}": expected <identity>/<condition>/<image>; nothing was written`);
    const [identity, condition, file] = entry.segments;
    try {
      checkName('identity', identity);
      checkName('condition', condition);
    } catch (error) {
      throw new InvalidRequestError(`zip entry "${entry.name}": ${(error as Error).message}; nothing was written`);
    }
    if (!isImageFile(file)) throw new InvalidRequestError(`zip entry "${entry.name}": not a photo (expected ${IMAGE_EXTENSIONS.join(', ')}); nothing was written`);
    return { name: entry.name, identity, condition, bytes: entry.bytes };
  });
  await requireConsent(dataset, [...new Set(photos.map((photo) => photo.identity))].sort());
  for (const photo of photos) await checkPhotoBytes(photo.bytes, `zip entry "${photo.name}"`);

  let kept = 0;
  const skipped: SkippedImage[] = [];
  for (const photo of photos) {
    try {
      const reply = await addPhoto({ dataset, identity: photo.identity, condition: photo.condition, bytes: photo.bytes });
      if (reply.kept) kept += 1;
      else skipped.push({ relPath: photo.name, reason: reply.reason });
    } catch (error) {
      // Only damage a header check cannot see (a cut-short JPEG) gets here: skip that photo, keep the rest.
      if (!(error instanceof PhotoFormatError)) throw error;
      skipped.push({ relPath: photo.name, reason: error.message });
    }
  }
  return { kept, skipped };
}

/**
 * A zip of a dataset under a folder named after it: every chip, keypoints.json, consent.json and
 * import-report.json (those that exist). Chips are stored, not deflated again.
 */
export async function exportDatasetZip(dataset: string): Promise<Uint8Array> {
  const root = await existingDatasetRoot(dataset);
  return withDatasetLock(dataset, async () => {
    const files: Zippable = {};
    for (const image of (await scanDataset(root)).images) files[`${dataset}/${image.relPath}`] = [await readFile(image.file), { level: 0 }];
    for (const sidecar of [KEYPOINTS_FILE, CONSENT_FILE, IMPORT_REPORT_FILE]) {
      const file = path.join(root, sidecar);
      if (await exists(file)) files[`${dataset}/${sidecar}`] = await readFile(file);
    }
    return zipSync(files, { level: 6 });
  });
}
