import path from 'node:path';
import { inject } from 'vitest';
import { initBackend } from '../../server/ml/backend.ts';
import { ensureDemoPairs } from '../../server/train/demoPair.ts';

export interface DemoWorkspace {
  dataDir: string;
  modelsDir: string;
}

/** Points DATA_DIR and MODELS_DIR at the run's shared scratch folders and builds the demo pair there once. */
export async function useDemoWorkspace(): Promise<DemoWorkspace> {
  const root = inject('demoWorkspace');
  const workspace = { dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') };
  process.env.DATA_DIR = workspace.dataDir;
  process.env.MODELS_DIR = workspace.modelsDir;
  await initBackend();
  await ensureDemoPairs();
  return workspace;
}
