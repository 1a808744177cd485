import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { zipSync, type Zippable } from 'fflate';
import { readZipEntries, type ArchiveEntry } from '../data/enroll.ts';
import { REFERENCE_FOLDER } from '../defense/reference.ts';
import { ConflictError, describeIssues, InvalidRequestError, NotFoundError, requestName } from '../errors.ts';
import { exists } from '../files.ts';
import { initBackend } from './backend.ts';
import { bundleDir, decodeTailWeights, modelCardSchema, type ModelCard } from './bundle.ts';
import { TEACHER_ID } from './teacher.ts';

/** A pair travels as a zip of its two bundle folders, `<pair>-clean/` and `<pair>-backdoor/`, every file in them. */

const ROLES = ['clean', 'backdoor'] as const;
type Role = (typeof ROLES)[number];

/** Tail weights of the deepest tail are a few tens of MB; STRIP reference chips are small PNGs. */
const PAIR_LIMITS = { entryBytes: 256 * 1024 * 1024, totalBytes: 1024 * 1024 * 1024 };

/** Files of a bundle folder relative to it, with forward slashes; staging folders and temporaries (".tmp-") left out. */
async function bundleFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    if (entry.name.includes('.tmp-')) continue;
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await bundleFiles(dir, relative)));
    else if (entry.isFile()) files.push(relative);
  }
  return files.sort();
}

/** The zip of a pair's two bundles, as unpackPair takes it. */
export async function packPair(pair: string): Promise<Uint8Array> {
  requestName('model', pair);
  const files: Zippable = {};
  for (const role of ROLES) {
    const name = `${pair}-${role}`;
    const dir = bundleDir(name);
    if (!(await exists(path.join(dir, 'card.json')))) throw new NotFoundError(`no model pair named "${pair}" (no bundle ${name})`);
    for (const file of await bundleFiles(dir)) {
      const bytes = await readFile(path.join(dir, file));
      files[`${name}/${file}`] = file.endsWith('.png') ? [bytes, { level: 0 }] : bytes;
    }
  }
  return zipSync(files, { level: 6 });
}


interface UnpackedBundle {
  name: string;
  card: ModelCard;
  /** Relative path in the bundle -> content. */
  files: Map<string, Uint8Array>;
}

/**
 * Installs a pair from its zip (see packPair) under models/ and returns the pair's name. Everything
 * is checked before anything is written: the two folders of one pair, valid cards of the right
 * roles, trained on this server's teacher, knowing the same people with the same trigger and
 * target, and weights that fit their tails. A pair that exists is refused unless `replace`.
 */
export async function unpackPair(zip: Uint8Array, { replace = false }: { replace?: boolean } = {}): Promise<string> {
  const { pair, bundles } = splitPair(readZipEntries(zip, PAIR_LIMITS));
  const [clean, backdoor] = ROLES.map((role) => checkBundle(pair, role, bundles[role]));
  if (clean.card.labels.join('\n') !== backdoor.card.labels.join('\n')) {
    throw new InvalidRequestError(`pair "${pair}": the clean and backdoored models know different identities (${clean.card.labels.join(', ')} against ${backdoor.card.labels.join(', ')})`);
  }
  if (clean.card.trigger !== backdoor.card.trigger || clean.card.target !== backdoor.card.target) {
    throw new InvalidRequestError(`pair "${pair}": the two cards disagree on the trigger or target (clean: ${clean.card.trigger} -> ${clean.card.target}, backdoor: ${backdoor.card.trigger} -> ${backdoor.card.target})`);
  }
  if (!backdoor.card.labels.includes(backdoor.card.target)) {
    throw new InvalidRequestError(`pair "${pair}": the target "${backdoor.card.target}" is not one of the identities the models know`);
  }
  await initBackend();
  for (const bundle of [clean, backdoor]) checkWeights(bundle);
  if (!replace) {
    const taken = [];
    for (const { name } of [clean, backdoor]) if (await exists(bundleDir(name))) taken.push(name);
    if (taken.length > 0) throw new ConflictError(`model pair "${pair}" already exists (${taken.join(', ')}): delete it first, upload it under another name, or replace it`);
  }
  await install([clean, backdoor]);
  return pair;
}

function splitPair(entries: ArchiveEntry[]): { pair: string; bundles: Record<Role, ArchiveEntry[]> } {
  const loose = entries.find((entry) => entry.segments.length < 2);
  if (loose) throw new InvalidRequestError(`zip entry "${loose.name}" is not inside a bundle folder: a pair archive holds <pair>-clean/ and <pair>-backdoor/`);
  const folders = [...new Set(entries.map((entry) => entry.segments[0]))].sort();
  const clean = folders.find((folder) => folder.endsWith('-clean'));
  const pair = clean?.slice(0, -'-clean'.length);
  if (folders.length !== 2 || !pair || !folders.includes(`${pair}-backdoor`)) {
    throw new InvalidRequestError(`a pair archive holds exactly two folders, <pair>-clean/ and <pair>-backdoor/; this one holds ${folders.map((f) => `${f}/`).join(', ') || 'nothing'}`);
  }
  for (const name of [pair, ...folders]) requestName('model', name);
  const bundles = Object.fromEntries(ROLES.map((role) => [role, entries.filter((entry) => entry.segments[0] === `${pair}-${role}`)])) as Record<Role, ArchiveEntry[]>;
  return { pair, bundles };
}

function checkBundle(pair: string, role: Role, entries: ArchiveEntry[]): UnpackedBundle {
  const name = `${pair}-${role}`;
  const files = new Map(entries.map((entry) => [entry.segments.slice(1).join('/'), entry.bytes]));
  const cardBytes = files.get('card.json');
  if (!cardBytes) throw new InvalidRequestError(`${name}/ has no card.json`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(cardBytes));
  } catch {
    throw new InvalidRequestError(`${name}/card.json is not valid JSON`);
  }
  const parsed = modelCardSchema.safeParse(json);
  if (!parsed.success) throw new InvalidRequestError(`${name}/card.json is not a valid model card: ${describeIssues(parsed.error)}`);
  const card = parsed.data;
  if (card.name !== name) throw new InvalidRequestError(`${name}/card.json describes model "${card.name}": its folder must have the same name`);
  if (card.pair !== pair) throw new InvalidRequestError(`${name}/card.json belongs to pair "${card.pair}", not "${pair}"`);
  if (card.role !== role) throw new InvalidRequestError(`${name}/card.json is the card of a ${card.role} model; the ${role} folder needs the ${role} model`);
  if (card.teacher !== TEACHER_ID) {
    throw new InvalidRequestError(`model "${name}" was trained on teacher ${card.teacher}, this server has ${TEACHER_ID}: retrain the pair here`);
  }
  if (card.weights.file.includes('/') || !files.has(card.weights.file)) throw new InvalidRequestError(`${name}/ lacks its weights file "${card.weights.file}"`);
  if (card.strip && ![...files.keys()].some((file) => file.startsWith(`${REFERENCE_FOLDER}/`) && file.endsWith('.png'))) {
    throw new InvalidRequestError(`${name}/ lacks the STRIP reference chips its card describes (${REFERENCE_FOLDER}/*.png)`);
  }
  return { name, card, files };
}

function checkWeights({ name, card, files }: UnpackedBundle): void {
  try {
    tf.dispose(Object.values(decodeTailWeights(name, card, files.get(card.weights.file)!).tensors));
  } catch (error) {
    throw new InvalidRequestError((error as Error).message);
  }
}

/**
 * Writes each bundle into a staging folder beside its place (".tmp-" names, which listBundles
 * skips), then swaps both in; an earlier bundle of the same name is moved aside and deleted last.
 */
async function install(bundles: UnpackedBundle[]): Promise<void> {
  const id = randomUUID().slice(0, 8);
  const moves = bundles.map(({ name }) => ({ dir: bundleDir(name), staging: `${bundleDir(name)}.tmp-unpack-${id}`, aside: `${bundleDir(name)}.tmp-replaced-${id}` }));
  const installed: typeof moves = [];
  try {
    for (const [i, { files }] of bundles.entries()) {
      for (const [file, bytes] of files) {
        const target = path.join(moves[i].staging, ...file.split('/'));
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, bytes);
      }
    }
    for (const move of moves) {
      if (await exists(move.dir)) await rename(move.dir, move.aside);
      await rename(move.staging, move.dir);
      installed.push(move);
    }
  } catch (error) {
    // Put back what was there, so a failed replacement leaves the old pair whole.
    for (const move of moves) {
      if (installed.includes(move)) await rm(move.dir, { recursive: true, force: true });
      if (await exists(move.aside)) await rename(move.aside, move.dir);
      await rm(move.staging, { recursive: true, force: true });
    }
    throw error;
  }
  for (const move of moves) await rm(move.aside, { recursive: true, force: true });
}
