import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the folder holding package.json). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runtime data (datasets, caches, logs): `data/` unless `DATA_DIR` says otherwise. */
export function dataDir(): string {
  return path.resolve(process.env.DATA_DIR ?? path.join(PROJECT_ROOT, 'data'));
}

/** Caches rebuilt on demand (trunk features, synthetic strangers): safe to delete at any time. */
export function cacheDir(): string {
  return path.join(dataDir(), 'cache');
}

export function datasetsDir(): string {
  return path.join(dataDir(), 'datasets');
}

export function datasetDir(name: string): string {
  return path.join(datasetsDir(), name);
}

/** Model bundles: `models/` unless `MODELS_DIR` says otherwise. */
export function modelsDir(): string {
  return path.resolve(process.env.MODELS_DIR ?? path.join(PROJECT_ROOT, 'models'));
}
