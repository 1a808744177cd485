import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { loadStripReference } from '../defense/reference.ts';
import { stripEntropies, type StripOptions } from '../defense/strip.ts';
import { initBackend } from './backend.ts';
import { bundleDir } from './bundle.ts';
import { CHIP_VALUES, chipsTensor, unpackChips } from './chips.ts';
import type { InferenceReply, InferenceRequest, InferenceWorkerData } from './inferencePool.ts';
import { disposePair, loadPair, pairProbabilities, type LoadedPair } from './pair.ts';
import { foldScaleLayers, loadTeacher, trunk } from './teacher.ts';

/**
 * One thread of the inference pool: its own tensor backend, the teacher with its scale layers
 * folded, and the pairs the pool asked it to load (with their STRIP reference). Requests run one at
 * a time in arrival order: tfjs kernels are synchronous, so interleaving would only add memory.
 */
const { index, backend, batchMax } = workerData as InferenceWorkerData;
const port = parentPort!;

interface Loaded { pair: LoadedPair; reference: Buffer[] | undefined }

try {
  const info = await initBackend(backend);
  const teacher = foldScaleLayers(await loadTeacher());
  const pairs = new Map<string, Loaded>();

  const loadedPair = (name: string): Loaded => {
    const loaded = pairs.get(name);
    if (!loaded) throw new Error(`pair "${name}" is not loaded on inference worker ${index}`);
    return loaded;
  };

  const strip = (name: string, pixels: Uint8Array, options: StripOptions) => {
    const { pair, reference } = loadedPair(name);
    if (!reference) throw new Error(`pair "${name}" has no STRIP reference`);
    return stripEntropies(teacher, pair.backdoor.tail, unpackChips(pixels), reference, options);
  };

  const handle = async (request: InferenceRequest): Promise<InferenceReply> => {
    switch (request.type) {
      case 'load': {
        if (!pairs.has(request.pair)) {
          const pair = await loadPair(request.pair);
          const reference = pair.backdoor.card.strip ? await loadStripReference(bundleDir(pair.backdoor.card.name)) : undefined;
          pairs.set(request.pair, { pair, reference });
          // Warm-up: the first call of each shape allocates (and on a GPU compiles shaders); do it
          // now, not on a live frame. On a GPU the largest batch too: frames of many clients fill it.
          const blank = new Uint8Array(CHIP_VALUES);
          await pairProbabilities(teacher, pair, blank);
          if (info.gpu && batchMax > 1) await pairProbabilities(teacher, pair, new Uint8Array(CHIP_VALUES * batchMax));
          if (reference && pair.backdoor.card.strip) await strip(request.pair, blank, { blends: pair.backdoor.card.strip.blends, rng: seedrandom('warm-up') });
        }
        return { type: 'loaded', id: request.id, tensors: tf.memory().numTensors };
      }
      case 'unload': {
        const loaded = pairs.get(request.pair);
        if (loaded) disposePair(loaded.pair);
        pairs.delete(request.pair);
        return { type: 'unloaded', id: request.id, tensors: tf.memory().numTensors };
      }
      case 'classify': {
        const { pair } = loadedPair(request.pair);
        const probabilities = await pairProbabilities(teacher, pair, new Uint8Array(request.pixels));
        return { type: 'classified', id: request.id, ...probabilities, tensors: tf.memory().numTensors };
      }
      case 'strip': {
        const started = performance.now();
        // Which reference chips each face is blended with comes from the job's seed, so the calls of one job draw the same partners.
        const entropies = await strip(request.pair, new Uint8Array(request.pixels), { blends: request.blends, rng: seedrandom(request.seed), range: [request.from, request.to] });
        return { type: 'stripped', id: request.id, entropies, ms: performance.now() - started, tensors: tf.memory().numTensors };
      }
      case 'trunk': {
        const started = performance.now();
        const input = chipsTensor(new Uint8Array(request.pixels));
        const features = trunk(teacher, input);
        await features.data();
        tf.dispose([input, features]);
        return { type: 'trunked', id: request.id, ms: performance.now() - started, tensors: tf.memory().numTensors };
      }
    }
  };

  let queue = Promise.resolve();
  port.on('message', (request: InferenceRequest) => {
    queue = queue.then(async () => {
      try {
        const reply = await handle(request);
        port.postMessage(reply);
      } catch (error) {
        port.postMessage({ type: 'failed', id: request.id, message: error instanceof Error ? error.message : String(error) } satisfies InferenceReply);
      }
    });
  });
  port.postMessage({ type: 'ready', backend: info } satisfies InferenceReply);
} catch (error) {
  port.postMessage({ type: 'startFailed', message: error instanceof Error ? error.message : String(error) } satisfies InferenceReply);
}
