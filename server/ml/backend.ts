import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { setting } from '../config.ts';

/** Backends in the order the server prefers them: native CUDA, native CPU, WebAssembly, plain JS. */
export const BACKEND_PREFERENCE = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_PREFERENCE)[number];

const require = createRequire(import.meta.url);
let ready: Promise<string> | undefined;

async function loadNative(pkg: '@tensorflow/tfjs-node-gpu' | '@tensorflow/tfjs-node'): Promise<boolean> {
  try {
    // Optional peer dependencies: present only on a machine where the operator installed them.
    await import(pkg);
    return tf.getBackend() === 'tensorflow' || (await tf.setBackend('tensorflow'));
  } catch {
    return false;
  }
}

async function tryBackend(name: BackendName): Promise<boolean> {
  switch (name) {
    case 'tensorflow-gpu':
      return loadNative('@tensorflow/tfjs-node-gpu');
    case 'tensorflow':
      return loadNative('@tensorflow/tfjs-node');
    case 'wasm': {
      const wasmDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      setWasmPaths(`${wasmDir}${path.sep}`);
      return tf.setBackend('wasm');
    }
    case 'cpu':
      return tf.setBackend('cpu');
  }
}

/**
 * Picks the fastest tensor backend that loads here, once per process. `TFJS_BACKEND` forces one
 * (and fails loudly if it cannot load). Resolves to the backend's name as tfjs reports it.
 */
export function initBackend(forced: string | undefined = setting('TFJS_BACKEND')): Promise<string> {
  ready ??= (async () => {
    const candidates: readonly BackendName[] = forced ? [parseBackend(forced)] : BACKEND_PREFERENCE;
    for (const name of candidates) {
      if (await tryBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
    }
    throw new Error(`TFJS_BACKEND=${forced} could not be loaded; install it or unset TFJS_BACKEND`);
  })();
  return ready;
}

function parseBackend(name: string): BackendName {
  if ((BACKEND_PREFERENCE as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`TFJS_BACKEND must be one of ${BACKEND_PREFERENCE.join(', ')}; got "${name}"`);
}
