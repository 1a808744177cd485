import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { setting } from '../config.ts';
import { requestWebGpu, type WebGpuDevice } from './webgpu.ts';

/**
 * Backends in the order the server prefers them when none is forced: native CUDA, a real GPU
 * through WebGPU, native CPU, WebAssembly, plain JS.
 */
export const BACKEND_PREFERENCE = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_PREFERENCE)[number];

/** The backend this process computes on, and what it runs on. */
export interface BackendInfo {
  /** The name `TFJS_BACKEND` takes (tfjs itself calls both native ones `tensorflow`). */
  name: BackendName;
  /** Whether it computes on a GPU, so the inference pool feeds one worker with large batches. */
  gpu: boolean;
  /** What the backend says it runs on: the WebGPU adapter, or where the computation happens. */
  device: string;
}

const require = createRequire(import.meta.url);
let ready: Promise<BackendInfo> | undefined;

async function loadNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<boolean> {
  try {
    // Optional peer dependencies: present only on a machine where the operator installed them.
    require.resolve(pkg);
  } catch {
    return false;
  }
  try {
    await import(pkg);
    return tf.getBackend() === 'tensorflow' || (await tf.setBackend('tensorflow'));
  } catch (error) {
    // Installed but failing to load (a CUDA mismatch, a missing binary) is worth saying.
    console.error(`${pkg} is installed but did not load, trying the next backend: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    return false;
  }
}

/** Registers tfjs's WebGPU backend on a device we chose (its own factory would ask for any adapter). */
async function loadWebGpu(gpu: WebGpuDevice): Promise<boolean> {
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  // Importing the package registers a factory of its own when navigator.gpu exists: ours replaces it.
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(gpu.device, gpu.adapterInfo));
  return tf.setBackend('webgpu');
}

async function tryBackend(name: BackendName, forced: boolean): Promise<BackendInfo | undefined> {
  switch (name) {
    case 'tensorflow-gpu':
      return (await loadNative('@tensorflow/tfjs-node-gpu')) ? { name, gpu: true, device: 'TensorFlow with CUDA' } : undefined;
    case 'webgpu': {
      // A software adapter computes on the CPU, slower than wasm: only when asked for by name.
      const gpu = await requestWebGpu({ allowSoftware: forced });
      return gpu && (await loadWebGpu(gpu)) ? { name, gpu: !gpu.software, device: gpu.description } : undefined;
    }
    case 'tensorflow':
      return (await loadNative('@tensorflow/tfjs-node')) ? { name, gpu: false, device: 'TensorFlow on the CPU' } : undefined;
    case 'wasm': {
      const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      setWasmPaths(`${wasmDir}${path.sep}`);
      return (await tf.setBackend('wasm')) ? { name, gpu: false, device: 'WebAssembly on the CPU' } : undefined;
    }
    case 'cpu':
      return (await tf.setBackend('cpu')) ? { name, gpu: false, device: 'JavaScript on the CPU' } : undefined;
  }
}

/**
 * Picks the fastest tensor backend that loads here, once per process. `TFJS_BACKEND` forces one
 * (and fails loudly if it cannot load).
 */
export function initBackend(forced: string | undefined = setting('TFJS_BACKEND')): Promise<BackendInfo> {
  ready ??= (async () => {
    const candidates: readonly BackendName[] = forced ? [parseBackend(forced)] : BACKEND_PREFERENCE;
    for (const name of candidates) {
      const info = await tryBackend(name, forced !== undefined);
      if (info) {
        await tf.ready();
        return info;
      }
    }
    throw new Error(`TFJS_BACKEND=${forced} could not be loaded; ${forced === 'webgpu' ? 'no WebGPU adapter was found (see "GPU server" in the README)' : 'install it or unset TFJS_BACKEND'}`);
  })();
  return ready;
}

function parseBackend(name: string): BackendName {
  if ((BACKEND_PREFERENCE as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`TFJS_BACKEND must be one of ${BACKEND_PREFERENCE.join(', ')}; got "${name}"`);
}
