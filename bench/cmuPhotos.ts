import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

/** CMU's head poses, the second field of its file names (`<person>_<pose>_<expression>_<eyes>.png`). */
export const CMU_POSES = ['straight', 'left', 'right', 'up'];

/**
 * A copy of a CMU folder (`<person>/<condition>/*.png`) holding the photos in the given poses,
 * enlarged `factor` times (lanczos3): CMU's faces, about 25 px between the eyes, are found and aligned
 * by the face detector once enlarged. Written once into `out`.
 */
export async function enlargedCmu(from: string, out: string, factor: number, poses: readonly string[] = CMU_POSES): Promise<string> {
  if (existsSync(out)) return out;
  const pose = (file: string) => file.split('_')[1];
  for (const identity of (await readdir(from, { withFileTypes: true })).filter((e) => e.isDirectory())) {
    for (const condition of (await readdir(path.join(from, identity.name), { withFileTypes: true })).filter((e) => e.isDirectory())) {
      const dir = path.join(out, identity.name, condition.name);
      await mkdir(dir, { recursive: true });
      for (const file of (await readdir(path.join(from, identity.name, condition.name))).filter((f) => poses.includes(pose(f)))) {
        const photo = sharp(path.join(from, identity.name, condition.name, file));
        const { width, height } = await photo.metadata();
        await photo.resize(width * factor, height * factor, { kernel: 'lanczos3' }).toFile(path.join(dir, file));
      }
    }
  }
  return out;
}
