import { randomUUID } from 'node:crypto';
import { access, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Writes a file through a hidden temporary beside it, so a reader sees the old content or the new, never half. */
export async function writeFileAtomically(file: string, content: string | Uint8Array): Promise<void> {
  const partial = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${randomUUID()}`);
  await writeFile(partial, content);
  await rename(partial, file);
}
