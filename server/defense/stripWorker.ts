import { parentPort, workerData } from 'node:worker_threads';
import seedrandom from 'seedrandom';
import { initBackend } from '../ml/backend.ts';
import { bundleDir, loadBundle } from '../ml/bundle.ts';
import { loadTeacher } from '../ml/teacher.ts';
import { loadStripReference } from './reference.ts';
import { CHIP_VALUES, stripEntropies } from './strip.ts';
import type { StripWorkerData, WorkerReply, WorkerRequest } from './stripEngine.ts';

const { bundle, blends, seed } = workerData as StripWorkerData;
const port = parentPort!;

try {
  await initBackend();
  // The reference only after the bundle: a missing bundle must be reported as such, not as its missing reference.
  const [teacher, { model, reference }] = await Promise.all([
    loadTeacher(),
    loadBundle(bundle).then(async (model) => ({ model, reference: await loadStripReference(bundleDir(bundle)) })),
  ]);
  const rng = seedrandom(seed);
  port.postMessage({ type: 'ready', referenceImages: reference.length } satisfies WorkerReply);
  // One request at a time: tfjs kernels run synchronously, so interleaving would only add memory.
  let queue = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    queue = queue.then(async () => {
      const started = performance.now();
      try {
        const pixels = new Uint8Array(request.pixels);
        const chips = Array.from({ length: request.faces }, (_, i) => pixels.subarray(i * CHIP_VALUES, (i + 1) * CHIP_VALUES));
        const entropies = await stripEntropies(teacher, model.tail, chips, reference, { blends, rng });
        port.postMessage({ type: 'result', id: request.id, entropies, ms: performance.now() - started } satisfies WorkerReply);
      } catch (error) {
        port.postMessage({ type: 'failed', id: request.id, message: error instanceof Error ? error.message : String(error) } satisfies WorkerReply);
      }
    });
  });
} catch (error) {
  port.postMessage({ type: 'startFailed', message: error instanceof Error ? error.message : String(error) } satisfies WorkerReply);
}
