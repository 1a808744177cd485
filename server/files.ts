import { randomUUID } from 'node:crypto';
import { access, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

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

/** A JSON file checked against its schema, or `absent` when there is no such file; a message naming the file otherwise. */
export async function readJsonFile<T>(file: string, schema: z.ZodType<T>, absent: T): Promise<T> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return absent;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is malformed: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
