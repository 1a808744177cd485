import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../server/config.ts';
import { CLIENT_DIR, CLIENT_DIST_DIR } from './assets.ts';
import { ensureFaceModel } from './faceModel.ts';

/** What the bundle is made from: rebuilt when any of these is newer than the last build. */
const SOURCES = [path.join(CLIENT_DIR, 'src'), path.join(CLIENT_DIR, 'index.html'), path.join(CLIENT_DIR, 'vite.config.ts'), path.join(PROJECT_ROOT, 'shared')];

async function newestMtime(entry: string): Promise<number> {
  const info = await stat(entry).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  const children = await readdir(entry);
  return Math.max(info.mtimeMs, ...(await Promise.all(children.map((child) => newestMtime(path.join(entry, child))))));
}

async function clientBundleIsCurrent(): Promise<boolean> {
  const built = await stat(path.join(CLIENT_DIST_DIR, 'index.html')).then((s) => s.mtimeMs, () => undefined);
  if (built === undefined) return false;
  const sources = await Promise.all(SOURCES.map(newestMtime));
  return Math.max(...sources) <= built;
}

/**
 * Builds what the live page needs: the face model with its metadata, and the client bundle
 * (client/dist, with Vite). Unless forced, only what is missing or out of date is built.
 */
export async function buildAssets({ force, log }: { force: boolean; log: (line: string) => void }): Promise<void> {
  await ensureFaceModel();
  if (force || !(await clientBundleIsCurrent())) {
    log('building the live page (client/dist)');
    const { build } = await import('vite');
    await build({ configFile: path.join(CLIENT_DIR, 'vite.config.ts'), logLevel: 'warn' });
  }
}
