import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * One scratch DATA_DIR/MODELS_DIR pair for the whole run: the first test file that needs the demo
 * models builds them there (about a minute) and later files reuse them.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const root = await mkdtemp(path.join(tmpdir(), 'demo-workspace-'));
  project.provide('demoWorkspace', root);
  return () => rm(root, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    demoWorkspace: string;
  }
}
