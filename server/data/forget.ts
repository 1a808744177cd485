import { randomUUID } from 'node:crypto';
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ForgetReply, TrainedBundles } from '../../shared/api.ts';
import { checkName } from '../../shared/names.ts';
import { cacheDir, datasetDir } from '../config.ts';
import { NotFoundError } from '../errors.ts';
import { exists, writeFileAtomically } from '../files.ts';
import { bundleDir, listBundles, readCard } from '../ml/bundle.ts';
import { readKeypoints, scanDataset, writeKeypoints } from './dataset.ts';
import { CONSENT_FILE, readConsents, withDatasetLock } from './enroll.ts';
import { IMPORT_REPORT_FILE, type ImportReport } from './import.ts';


const HIDDEN_PREFIX = '.forget-';

/** The model bundles trained on a person of a dataset (what forgetting them deletes), and those whose card cannot be read. */
export async function bundlesTrainedOn(datasetName: string, identity: string): Promise<TrainedBundles> {
  const bundles: string[] = [];
  const unreadableBundles: string[] = [];
  for (const name of await listBundles()) {
    const card = await readCard(name).catch(() => undefined);
    if (!card) unreadableBundles.push(name);
    else if (card.dataset.name === datasetName && card.labels.includes(identity)) bundles.push(name);
  }
  return { bundles, unreadableBundles };
}

/**
 * Deletes everything this project keeps of one person of a dataset: their face chips and keypoints,
 * their consent record, their entries in the import report, the model bundles trained on them, and
 * the caches (which are keyed by content, so the person's share cannot be told apart; they are
 * rebuilt on the next training).
 * Everything is checked before anything of the person is deleted; their folder is first hidden by a
 * rename, so no training ever sees half of it. A forgetting cut short after that rename is finished
 * by the next forget in the same dataset, whoever it is for, even one that is then refused.
 */
export async function forgetIdentity(datasetName: string, identity: string): Promise<ForgetReply> {
  const root = datasetDir(checkName('dataset', datasetName));
  checkName('identity', identity);
  return withDatasetLock(datasetName, () => forgetLocked(datasetName, root, identity));
}

async function forgetLocked(datasetName: string, root: string, identity: string): Promise<ForgetReply> {
  const dataset = await scanDataset(root);
  // A person whose forgetting was interrupted after their folder was hidden.
  for (const entry of await readdir(root)) if (entry.startsWith(HIDDEN_PREFIX)) await rm(path.join(root, entry), { recursive: true, force: true });
  const chips = dataset.images.filter((image) => image.identity === identity).length;
  const consents = await readConsents(datasetName);
  const hasFolder = await exists(path.join(root, identity));
  if (!hasFolder && !consents[identity]) throw new NotFoundError(`dataset "${datasetName}" has no identity "${identity}" (it has ${dataset.identities.join(', ') || 'none'})`);
  const ownsEntry = (relPath: string) => relPath.startsWith(`${identity}/`);
  const allKeypoints = await readKeypoints(root);
  const keypoints = Object.fromEntries(Object.entries(allKeypoints).filter(([relPath]) => !ownsEntry(relPath)));
  const importReport = await readImportReport(root);

  const { bundles, unreadableBundles } = await bundlesTrainedOn(datasetName, identity);

  const hidden = path.join(root, `${HIDDEN_PREFIX}${randomUUID()}`);
  if (hasFolder) await rename(path.join(root, identity), hidden);
  if (consents[identity]) {
    const { [identity]: _forgotten, ...others } = consents;
    await writeFileAtomically(path.join(root, CONSENT_FILE), `${JSON.stringify(others, null, 2)}\n`);
  }
  if (Object.keys(keypoints).length < Object.keys(allKeypoints).length) await writeKeypoints(root, keypoints);
  if (importReport) {
    const perIdentity = Object.fromEntries(Object.entries(importReport.perIdentity).filter(([name]) => name !== identity));
    const remaining = {
      ...importReport,
      imported: Object.values(perIdentity).flatMap((counts) => Object.values(counts)).reduce((sum, n) => sum + n, 0),
      perIdentity,
      skipped: importReport.skipped.filter((skip) => !ownsEntry(skip.relPath)),
      // Reports written before import upscaled small faces have no such list: none is added.
      ...(importReport.upscaled && { upscaled: importReport.upscaled.filter((chip) => !ownsEntry(chip.relPath)) }),
    };
    await writeFileAtomically(path.join(root, IMPORT_REPORT_FILE), `${JSON.stringify(remaining, null, 2)}\n`);
  }
  await rm(hidden, { recursive: true, force: true });
  await rm(cacheDir(), { recursive: true, force: true });
  for (const name of bundles) {
    const doomed = `${bundleDir(name)}.tmp-forget-${randomUUID()}`;
    await rename(bundleDir(name), doomed);
    await rm(doomed, { recursive: true, force: true });
  }
  return { dataset: datasetName, identity, chips, bundles, unreadableBundles };
}

/** An import report as stored: older ones have no `upscaled` list. */
type StoredImportReport = Omit<ImportReport, 'upscaled'> & Partial<Pick<ImportReport, 'upscaled'>>;

async function readImportReport(root: string): Promise<StoredImportReport | undefined> {
  const file = path.join(root, IMPORT_REPORT_FILE);
  if (!(await exists(file))) return undefined;
  let report: StoredImportReport | undefined;
  try {
    report = JSON.parse(await readFile(file, 'utf8')) as StoredImportReport;
  } catch {
    // reported below
  }
  if (typeof report?.perIdentity !== 'object' || !Array.isArray(report.skipped) || !(report.upscaled === undefined || Array.isArray(report.upscaled))) {
    throw new Error(`${file} is not an import report; fix or delete it, then forget again`);
  }
  return report;
}
