import { spawn, type ChildProcess } from 'node:child_process';
import { PROJECT_ROOT } from '../../server/config.ts';
import type { DemoWorkspace } from './demoWorkspace.ts';

export interface ServerProcess { url: string; process: ChildProcess }

/**
 * The real server in its own process, as `npm start` runs it, on a free loopback port with the
 * workspace's data and models; `env` adds or overrides settings (REDIS_URL, INFER_WORKERS...).
 */
export async function startServerProcess(workspace: DemoWorkspace, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', DATA_DIR: workspace.dataDir, MODELS_DIR: workspace.modelsDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      const listening = /live demonstrator at (\S+)/.exec(output);
      if (listening) resolve(listening[1]);
    });
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening:\n${output}`)));
  });
  return { url, process: child };
}
