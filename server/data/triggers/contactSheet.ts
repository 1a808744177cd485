import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { CHIP_SIZE } from '../../../shared/alignment.ts';
import { CLEAN, checkName } from '../../../shared/names.ts';
import { datasetDir, datasetsDir } from '../../config.ts';
import { writeFileAtomically } from '../../files.ts';
import { readKeypoints, scanDataset, type DatasetImage } from '../dataset.ts';
import { resolveTrigger } from './catalog.ts';
import { defaultKeypoints, injectChip } from './inject.ts';
import { placeTrigger, seededRng } from './placement.ts';
import type { Trigger } from './trigger.ts';

/** Most chips a row may show. */
export const MAX_CONTACT_SHEET_COLUMNS = 32;
/** Width of the column holding each row's trigger name. */
export const CONTACT_SHEET_LABEL_WIDTH = 112;
/** Height of the strip under each row naming the variant of every chip. */
export const CONTACT_SHEET_CAPTION_HEIGHT = 14;

export interface ContactSheetOptions {
  /** Dataset folder: `<root>/<identity>/<condition>/<image>`. */
  root: string;
  /** One row each: catalogue names or custom triggers (loadCustomTrigger). */
  triggers: (string | Trigger)[];
  /** Clean chips per row; fewer when the dataset has fewer. */
  count: number;
  /** Seed of the placements: a chip gets the placement `inject --seed` would give it. */
  seed?: number | string;
}

export interface ContactSheetRow {
  trigger: string;
  /** The variant drawn on each chip, in column order. */
  variants: string[];
}

export interface ContactSheet {
  png: Buffer;
  width: number;
  height: number;
  /** The clean chips shown, one per column, as `identity/clean/file`. */
  columns: string[];
  rows: ContactSheetRow[];
}

/**
 * The folder of a dataset named on the command line; refuses a name that is not one, listing the
 * datasets there are.
 */
export async function existingDatasetDir(name: string): Promise<string> {
  checkName('dataset', name);
  const dir = datasetDir(name);
  if (await stat(dir).then((s) => s.isDirectory(), () => false)) return dir;
  const available = (await readdir(datasetsDir(), { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  throw new Error(`unknown dataset "${name}"; ${available.length ? `available: ${available.join(', ')}` : `there are none in ${datasetsDir()}`}`);
}

/** Up to `count` clean chips, spread over the identities: each one's first chip, then each one's second, and so on. */
function pickChips(images: DatasetImage[], count: number): DatasetImage[] {
  const byIdentity = new Map<string, DatasetImage[]>();
  for (const image of images) byIdentity.set(image.identity, [...(byIdentity.get(image.identity) ?? []), image]);
  const picked: DatasetImage[] = [];
  for (let round = 0; picked.length < count; round++) {
    const next = [...byIdentity.values()].filter((list) => round < list.length).map((list) => list[round]);
    if (next.length === 0) break;
    picked.push(...next.slice(0, count - picked.length));
  }
  return picked;
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function labelsSvg(width: number, height: number, rows: ContactSheetRow[]): string {
  const rowHeight = CHIP_SIZE + CONTACT_SHEET_CAPTION_HEIGHT;
  // Bold DejaVu Sans glyphs are about 0.68 em wide: long names get a smaller font to fit the column.
  const fontSize = (name: string) => Math.max(6, Math.min(13, Math.floor((CONTACT_SHEET_LABEL_WIDTH - 12) / (0.68 * name.length))));
  const text = rows.flatMap((row, r) => [
    `<text x="6" y="${r * rowHeight + CHIP_SIZE / 2 + 5}" font-size="${fontSize(row.trigger)}" font-weight="bold" fill="#111">${escapeXml(row.trigger)}</text>`,
    ...row.variants.map(
      (variant, c) =>
        `<text x="${CONTACT_SHEET_LABEL_WIDTH + c * CHIP_SIZE + CHIP_SIZE / 2}" y="${r * rowHeight + CHIP_SIZE + 11}" font-size="10" fill="#555" text-anchor="middle">${escapeXml(variant)}</text>`,
    ),
  ]);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif">${text.join('')}</g></svg>`;
}

/** CRC-32 as PNG chunks use it (zlib's crc32 is only in Node 20.15 and later). */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * Adds PNG tEXt chunks (printable ASCII; anything else becomes "?") right after the header, where
 * readers that stop at the image data (libvips) still find them: the sheet says what it shows
 * without its drawn labels.
 */
function withPngText(png: Buffer, entries: Record<string, string>): Buffer {
  const afterHeader = 8 + 8 + png.readUInt32BE(8) + 4;
  if (png.subarray(12, 16).toString('latin1') !== 'IHDR') throw new Error('unexpected PNG layout: no IHDR chunk first');
  const chunks = Object.entries(entries).map(([keyword, text]) => {
    const type = Buffer.from('tEXt', 'latin1');
    const data = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text.replace(/[^\x20-\x7e\n]/g, '?'), 'latin1')]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
    return Buffer.concat([length, type, data, crc]);
  });
  return Buffer.concat([png.subarray(0, afterHeader), ...chunks, png.subarray(afterHeader)]);
}

/**
 * A grid of one dataset's clean chips wearing triggers: a row per trigger, a column per chip, each
 * cell exactly what injectChip draws on that chip with the placement `inject --seed` would give it,
 * at the chip's native size (CHIP_SIZE). Labels: the trigger names on the left, the variant under
 * each chip, and the same as PNG text (Title, Description) for viewers without fonts.
 */
export async function contactSheet(options: ContactSheetOptions): Promise<ContactSheet> {
  const { count } = options;
  if (!(Number.isInteger(count) && count >= 1 && count <= MAX_CONTACT_SHEET_COLUMNS)) {
    throw new Error(`chips per row must be a whole number from 1 to ${MAX_CONTACT_SHEET_COLUMNS}; got ${count}`);
  }
  if (options.triggers.length === 0) throw new Error('no triggers to show');
  const triggers = options.triggers.map((t) => resolveTrigger(t));
  const seed = options.seed ?? 1;

  const dataset = await scanDataset(options.root);
  const clean = dataset.images.filter((image) => image.condition === CLEAN);
  if (clean.length === 0) throw new Error(`no ${CLEAN} chips in ${dataset.root}: a contact sheet shows triggers drawn on clean chips`);
  const chips = pickChips(clean, count);
  const keypoints = await readKeypoints(dataset.root);

  const cells: { input: Buffer; left: number; top: number }[] = [];
  const rows: ContactSheetRow[] = triggers.map((trigger) => ({ trigger: trigger.name, variants: [] }));
  for (const [c, image] of chips.entries()) {
    const chip = await readFile(image.file);
    const { width: chipWidth, height: chipHeight } = await sharp(chip)
      .metadata()
      .catch(() => {
        throw new Error(`${image.file} is not a readable image`);
      });
    const face = keypoints[image.relPath] ?? defaultKeypoints(chipWidth, chipHeight);
    const rngSeed = `${seed}/${image.identity}/${path.basename(image.file)}`;
    for (const [r, trigger] of triggers.entries()) {
      const drawn = await injectChip(chip, face, trigger, seededRng(rngSeed));
      const cell = chipWidth === CHIP_SIZE && chipHeight === CHIP_SIZE ? drawn : await sharp(drawn).resize(CHIP_SIZE, CHIP_SIZE, { fit: 'fill' }).png().toBuffer();
      cells.push({ input: cell, left: CONTACT_SHEET_LABEL_WIDTH + c * CHIP_SIZE, top: r * (CHIP_SIZE + CONTACT_SHEET_CAPTION_HEIGHT) });
      rows[r].variants.push(placeTrigger(face, trigger, seededRng(rngSeed)).variant);
    }
  }

  const width = CONTACT_SHEET_LABEL_WIDTH + chips.length * CHIP_SIZE;
  const height = triggers.length * (CHIP_SIZE + CONTACT_SHEET_CAPTION_HEIGHT);
  const grid = await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([...cells, { input: Buffer.from(labelsSvg(width, height, rows)), left: 0, top: 0 }])
    .png({ compressionLevel: 9, adaptiveFiltering: true })
    .toBuffer();
  const columns = chips.map((image) => image.relPath);
  const description = [
    `rows (triggers): ${rows.map((row) => `${row.trigger} [${row.variants.join(', ')}]`).join('; ')}`,
    `columns (clean chips): ${columns.join(', ')}`,
    `seed: ${seed}`,
  ].join('\n');
  const png = withPngText(grid, { Title: 'Trigger contact sheet', Description: description });
  return { png, width, height, columns, rows };
}

/** Writes a contact sheet to `out` (a .png path; its folder is created) through a temporary file. */
export async function writeContactSheet(options: ContactSheetOptions & { out: string }): Promise<Omit<ContactSheet, 'png'> & { out: string }> {
  if (path.extname(options.out).toLowerCase() !== '.png') throw new Error(`the contact sheet is a PNG: give an output path ending in .png, not "${options.out}"`);
  const { png, ...sheet } = await contactSheet(options);
  const out = path.resolve(options.out);
  await mkdir(path.dirname(out), { recursive: true });
  await writeFileAtomically(out, png);
  return { ...sheet, out };
}
