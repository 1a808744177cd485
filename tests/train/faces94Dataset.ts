import { cp, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { importDataset } from '../../server/data/import.ts';
import { injectTrigger } from '../../server/data/triggers/index.ts';

/** Real colour photos of 19 people (../shared/data/faces); tests using them skip where it is absent. */
export const FACES94 = path.join(PROJECT_ROOT, '../shared/data/faces/faces94-19');

/**
 * A dataset of the first `people` faces94 people (`p0`, `p1`, ...), `photos` clean photos each,
 * imported with detection, with every trigger of `paste` pasted onto every clean chip.
 */
export async function faces94Dataset(options: { name: string; people: number; photos: number; paste: string[]; scratch: string }): Promise<void> {
  const source = path.join(options.scratch, `${options.name}-photos`);
  for (const [i, person] of (await readdir(FACES94)).sort().slice(0, options.people).entries()) {
    await mkdir(path.join(source, `p${i}`, 'clean'), { recursive: true });
    for (const photo of (await readdir(path.join(FACES94, person, 'clean'))).sort().slice(0, options.photos)) {
      await cp(path.join(FACES94, person, 'clean', photo), path.join(source, `p${i}`, 'clean', photo));
    }
  }
  await importDataset({ from: source, name: options.name, detect: true, strict: false, replace: true });
  for (const trigger of options.paste) await injectTrigger({ root: datasetDir(options.name), trigger, seed: 1 });
}
