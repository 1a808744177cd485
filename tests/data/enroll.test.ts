import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CANONICAL_LEFT_EYE, CANONICAL_RIGHT_EYE, canonicalKeypoints, CHIP_SIZE, type FaceKeypoints, type Point } from '../../shared/alignment.ts';
import type { Consent } from '../../shared/api.ts';
import { datasetDir, datasetsDir } from '../../server/config.ts';
import { KEYPOINTS_FILE, readKeypoints, scanDataset } from '../../server/data/dataset.ts';
import {
  addChip,
  addPhoto,
  CONSENT_FILE,
  ConsentMissingError,
  describeDataset,
  exportDatasetZip,
  importArchive,
  listDatasets,
  PhotoFormatError,
  readConsents,
  recordConsent,
} from '../../server/data/enroll.ts';
import { InvalidRequestError, NotFoundError } from '../../server/errors.ts';
import { groupPhoto, onePersonPhoto } from './samplePhotoCrops.ts';

const CONSENT: Consent = { presenter: 'Dr Ada Lee', date: '2024-05-01', purpose: 'live backdoor demonstration at the open day' };

let scratch: string;
let group: Uint8Array;
let oneFace: Uint8Array;
/** The same photo shrunk so the eyes are about 15 px apart: found only on an upscaled copy. */
let smallFace: Uint8Array;
/** A 150x150 JPEG of that person's face, as the page sends an aligned chip. */
let chip: Uint8Array;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'enroll-'));
  process.env.DATA_DIR = path.join(scratch, 'data');
  group = await groupPhoto();
  oneFace = await onePersonPhoto();
  smallFace = await sharp(oneFace).resize(100).jpeg().toBuffer();
  chip = await sharp(group).extract({ left: 1470, top: 180, width: 220, height: 220 }).resize(CHIP_SIZE, CHIP_SIZE).jpeg().toBuffer();
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

beforeEach(async () => {
  await rm(process.env.DATA_DIR!, { recursive: true, force: true });
});

function distance(p: Point, q: Point): number {
  return Math.hypot(p.x - q.x, p.y - q.y);
}

/** Every file under a folder, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

describe('consent', () => {
  it('creates the dataset, validates the consent and lists the person before any photo', async () => {
    expect(await listDatasets()).toEqual([]);
    expect(await recordConsent('lab', 'ada', CONSENT)).toEqual({ name: 'ada', consent: CONSENT, conditions: {} });
    expect(await readConsents('lab')).toEqual({ ada: CONSENT });
    expect(await filesUnder(datasetDir('lab'))).toEqual([CONSENT_FILE]);
    await expect(recordConsent('lab', 'bo', { ...CONSENT, date: '1 May' })).rejects.toThrow(/YYYY-MM-DD/);
    await expect(recordConsent('lab', 'bo', { ...CONSENT, presenter: ' ' })).rejects.toThrow(/presenter/);
    await expect(recordConsent('lab', '../bo', CONSENT)).rejects.toThrow(InvalidRequestError);
    await expect(recordConsent('lab', 'unknown', CONSENT)).rejects.toThrow(/reserved/);
    expect(await readConsents('lab')).toEqual({ ada: CONSENT });
  });

  it('is required before a photo, a chip or an archive of a person is taken; nothing is written', async () => {
    await expect(addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: oneFace })).rejects.toThrow(ConsentMissingError);
    expect(await filesUnder(datasetsDir())).toEqual([]);
    await recordConsent('lab', 'bo', CONSENT);
    await expect(addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: oneFace })).rejects.toThrow(/no consent recorded for "ada" in dataset "lab": record their consent first/);
    await expect(addChip({ dataset: 'lab', identity: 'ada', condition: 'clean', chip })).rejects.toThrow(ConsentMissingError);
    const archive = zipSync({ 'ada/clean/one.jpg': oneFace, 'bo/clean/one.jpg': oneFace, 'cy/clean/one.jpg': oneFace });
    await expect(importArchive('lab', archive)).rejects.toThrow(/no consent recorded for "ada", "cy" in dataset "lab"/);
    expect(await filesUnder(datasetDir('lab'))).toEqual([CONSENT_FILE]);
  });
});

describe('addPhoto', () => {
  it('keeps the one face of a photo as an aligned JPEG chip with its keypoints', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    const reply = await addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: oneFace });
    expect(reply).toEqual({ kept: true, relPath: expect.stringMatching(/^ada\/clean\/[\w-]+\.jpg$/) });
    const relPath = (reply as { relPath: string }).relPath;
    const dataset = await scanDataset(datasetDir('lab'));
    expect(dataset.images.map((image) => image.relPath)).toEqual([relPath]);
    expect(await sharp(dataset.images[0].file).metadata()).toMatchObject({ format: 'jpeg', width: CHIP_SIZE, height: CHIP_SIZE });
    const keypoints = await readKeypoints(dataset.root);
    expect(Object.keys(keypoints)).toEqual([relPath]);
    expect(distance(keypoints[relPath].leftEye, CANONICAL_LEFT_EYE)).toBeLessThan(0.01);
    expect(distance(keypoints[relPath].rightEye, CANONICAL_RIGHT_EYE)).toBeLessThan(0.01);
  });

  it('finds a small face on an upscaled copy and says so', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    const reply = await addPhoto({ dataset: 'lab', identity: 'ada', condition: 'sunglasses', bytes: smallFace });
    expect(reply).toMatchObject({ kept: true, relPath: expect.stringMatching(/^ada\/sunglasses\//) });
    expect((reply as { upscaled?: number }).upscaled).toBeGreaterThan(1);
  });

  it('answers with the reason when the photo does not show exactly one usable face, and writes nothing', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    expect(await addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: group })).toEqual({ kept: false, reason: '3 faces in the photo: send a photo with one face' });
    const wall = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#8a8' } }).png().toBuffer();
    expect(await addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: wall })).toEqual({ kept: false, reason: 'no face found' });
    expect(await filesUnder(datasetDir('lab'))).toEqual([CONSENT_FILE]);
  });

  it('refuses what is not a JPEG or PNG photo, and bad names', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    const text = new TextEncoder().encode('not a photo at all');
    await expect(addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: text })).rejects.toThrow(/the photo is not an image: send a JPEG or PNG image/);
    const webp = await sharp(oneFace).webp().toBuffer();
    await expect(addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: webp })).rejects.toThrow(PhotoFormatError);
    await expect(addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: webp })).rejects.toThrow(/webp image/);
    await expect(addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: new Uint8Array(0) })).rejects.toThrow(/empty/);
    await expect(addPhoto({ dataset: 'lab', identity: 'ada', condition: 'a/b', bytes: oneFace })).rejects.toThrow(/path separator/);
    expect(await filesUnder(datasetDir('lab'))).toEqual([CONSENT_FILE]);
  });
});

describe('addChip', () => {
  it('stores an aligned chip as sent, with canonical keypoints, and keeps every chip of concurrent captures', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    const replies = await Promise.all(Array.from({ length: 5 }, () => addChip({ dataset: 'lab', identity: 'ada', condition: 'clean', chip })));
    const relPaths = replies.map((reply) => (reply as { relPath: string }).relPath);
    expect(replies.every((reply) => reply.kept)).toBe(true);
    expect(new Set(relPaths).size).toBe(5);
    const keypoints = await readKeypoints(datasetDir('lab'));
    expect(Object.keys(keypoints).sort()).toEqual([...relPaths].sort());
    for (const [name, point] of Object.entries(canonicalKeypoints()) as [keyof FaceKeypoints, Point][]) {
      expect(distance(keypoints[relPaths[0]][name], point), name).toBeLessThan(0.01);
    }
    expect(new Uint8Array(await readFile(path.join(datasetDir('lab'), relPaths[0])))).toEqual(new Uint8Array(chip));
  });

  it('refuses a chip of the wrong size or format, writing nothing', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    const small = await sharp(chip).resize(100, 100).jpeg().toBuffer();
    await expect(addChip({ dataset: 'lab', identity: 'ada', condition: 'clean', chip: small })).rejects.toThrow(`the chip is 100x100; an aligned chip is ${CHIP_SIZE}x${CHIP_SIZE}`);
    const png = await sharp(chip).png().toBuffer();
    await expect(addChip({ dataset: 'lab', identity: 'ada', condition: 'clean', chip: png })).rejects.toThrow(/the chip is a png image: send a JPEG image/);
    expect(await filesUnder(datasetDir('lab'))).toEqual([CONSENT_FILE]);
  });
});

describe('listing datasets', () => {
  it('counts people (with photos or consent), chips and conditions; an unknown dataset is not found', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    await recordConsent('lab', 'bo', CONSENT);
    await recordConsent('empty', 'cy', CONSENT);
    await addChip({ dataset: 'lab', identity: 'ada', condition: 'clean', chip });
    await addChip({ dataset: 'lab', identity: 'ada', condition: 'clean', chip });
    await addChip({ dataset: 'lab', identity: 'ada', condition: 'cap', chip });
    expect(await listDatasets()).toEqual([
      { name: 'empty', identities: 1, images: 0, conditions: {} },
      { name: 'lab', identities: 2, images: 3, conditions: { cap: 1, clean: 2 } },
    ]);
    expect(await describeDataset('lab')).toEqual({
      name: 'lab',
      identities: 2,
      images: 3,
      conditions: { cap: 1, clean: 2 },
      people: [
        { name: 'ada', consent: CONSENT, conditions: { cap: 1, clean: 2 } },
        { name: 'bo', consent: CONSENT, conditions: {} },
      ],
    });
    await expect(describeDataset('nope')).rejects.toThrow(NotFoundError);
    await expect(describeDataset('nope')).rejects.toThrow('no dataset named "nope"');
    await expect(exportDatasetZip('nope')).rejects.toThrow(NotFoundError);
  });
});

describe('archives', () => {
  it('refuses an archive with a path leaving it, a bad name or a file that is not a photo, before writing anything', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    const refused: [Zippable, RegExp][] = [
      [{ 'ada/clean/one.jpg': oneFace, '../evil/clean/two.jpg': oneFace }, /zip entry "..\/evil\/clean\/two.jpg" climbs out of the archive/],
      [{ 'ada/clean/one.jpg': oneFace, 'ada/clean/../../x.jpg': oneFace }, /climbs out/],
      [{ 'ada/clean/one.jpg': oneFace, '/etc/clean/x.jpg': oneFace }, /absolute path/],
      [{ 'ada/clean/one.jpg': oneFace, 'bad name/clean/x.jpg': oneFace }, /zip entry "bad name\/clean\/x.jpg": identity name "bad name" is not allowed/],
      [{ 'ada/clean/one.jpg': oneFace, 'ada/one.jpg': oneFace }, /expected <identity>\/<condition>\/<image>/],
      [{ 'ada/clean/one.jpg': oneFace, 'ada/clean/notes.txt': new TextEncoder().encode('hi') }, /not a photo/],
      [{ 'ada/clean/one.jpg': oneFace, 'ada/clean/fake.jpg': new TextEncoder().encode('hi') }, /zip entry "ada\/clean\/fake.jpg" is not an image/],
    ];
    for (const [files, message] of refused) {
      await expect(importArchive('lab', zipSync(files))).rejects.toThrow(message);
    }
    await expect(importArchive('lab', new TextEncoder().encode('PK but not really'))).rejects.toThrow(/not a readable zip/);
    expect(await filesUnder(datasetDir('lab'))).toEqual([CONSENT_FILE]);
  });

  it('adds each photo of an archive (inside one top-level folder) as addPhoto does, reporting the photos skipped', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    const archive = zipSync({
      'photos/ada/clean/one.jpg': oneFace,
      'photos/ada/clean/group.jpg': group,
      'photos/.DS_Store': new Uint8Array([0]),
      '__MACOSX/photos/ada/clean/._one.jpg': new Uint8Array([0]),
    });
    const result = await importArchive('lab', archive);
    expect(result).toEqual({ kept: 1, skipped: [{ relPath: 'photos/ada/clean/group.jpg', reason: '3 faces in the photo: send a photo with one face' }] });
    const dataset = await scanDataset(datasetDir('lab'));
    expect(dataset.images).toHaveLength(1);
    expect(Object.keys(await readKeypoints(dataset.root))).toEqual([dataset.images[0].relPath]);
  });

  it('exports every chip with the keypoints and consent under a folder named after the dataset', async () => {
    await recordConsent('lab', 'ada', CONSENT);
    await addPhoto({ dataset: 'lab', identity: 'ada', condition: 'clean', bytes: oneFace });
    await addChip({ dataset: 'lab', identity: 'ada', condition: 'cap', chip });
    const files = unzipSync(await exportDatasetZip('lab'));
    const dataset = await scanDataset(datasetDir('lab'));
    expect(Object.keys(files).sort()).toEqual([...dataset.images.map((image) => `lab/${image.relPath}`), `lab/${CONSENT_FILE}`, `lab/${KEYPOINTS_FILE}`].sort());
    for (const image of dataset.images) expect(files[`lab/${image.relPath}`]).toEqual(new Uint8Array(await readFile(image.file)));
    expect(JSON.parse(new TextDecoder().decode(files[`lab/${CONSENT_FILE}`]))).toEqual({ ada: CONSENT });
    expect(JSON.parse(new TextDecoder().decode(files[`lab/${KEYPOINTS_FILE}`]))).toEqual(await readKeypoints(dataset.root));
  });
});
