import { Worker } from 'node:worker_threads';
import { CHIP_VALUES, STRIP_DEFAULTS } from './strip.ts';

/**
 * STRIP for live frames on a worker thread of its own. tfjs kernels run synchronously: 16 blends
 * hold a thread for 0.3-0.5 s on this CPU (one face classifies in about 25 ms), so on the main
 * thread STRIP would stall classification; in a worker it uses the second core instead.
 */
export interface StripEngine {
  /** Clean chips the worker blends with, from the bundle's `strip-clean/`. */
  readonly referenceImages: number;
  /** Normalised STRIP entropy of each face chip (raw RGB, CHIP_SIZE x CHIP_SIZE) and the time the worker spent. */
  measure(chips: readonly Uint8Array[]): Promise<StripMeasurement>;
  close(): Promise<void>;
}

export interface StripMeasurement { entropies: number[]; ms: number }

export interface StripWorkerData { entry: string; bundle: string; blends: number; seed: string }
export interface WorkerRequest { id: number; faces: number; pixels: ArrayBuffer }
export type WorkerReply =
  | { type: 'ready'; referenceImages: number }
  | { type: 'result'; id: number; entropies: number[]; ms: number }
  | { type: 'failed'; id: number; message: string }
  | { type: 'startFailed'; message: string };

interface Pending { resolve: (m: StripMeasurement) => void; reject: (e: Error) => void }

/** Starts the worker for a backdoored model bundle and resolves once it has loaded the model and its reference. */
export function startStripEngine({ bundle, blends = STRIP_DEFAULTS.blends, seed = 'strip-live' }: { bundle: string; blends?: number; seed?: string }): Promise<StripEngine> {
  const workerData: StripWorkerData = { entry: new URL('./stripWorker.ts', import.meta.url).href, bundle, blends, seed };
  const worker = new Worker(new URL('../workerBoot.mjs', import.meta.url), { workerData });
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let stopped: Error | undefined;

  const stop = (error: Error) => {
    stopped ??= error;
    for (const p of pending.values()) p.reject(stopped);
    pending.clear();
  };

  return new Promise((resolveStart, rejectStart) => {
    worker.on('error', (error) => {
      stop(new Error(`STRIP worker for "${bundle}" crashed: ${error.message}`));
      rejectStart(stopped);
    });
    worker.on('exit', (code) => {
      stop(new Error(`STRIP worker for "${bundle}" stopped (exit code ${code})`));
      rejectStart(stopped);
    });
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'ready') {
        resolveStart({
          referenceImages: reply.referenceImages,
          async measure(chips) {
            if (stopped) throw stopped;
            const pixels = new Uint8Array(chips.length * CHIP_VALUES);
            chips.forEach((chip, i) => {
              if (chip.length !== CHIP_VALUES) throw new Error(`face ${i}: expected a raw RGB chip of ${CHIP_VALUES} bytes, got ${chip.length}`);
              pixels.set(chip, i * CHIP_VALUES);
            });
            const id = nextId++;
            return new Promise<StripMeasurement>((resolve, reject) => {
              pending.set(id, { resolve, reject });
              worker.postMessage({ id, faces: chips.length, pixels: pixels.buffer } satisfies WorkerRequest, [pixels.buffer]);
            });
          },
          async close() {
            stop(new Error(`STRIP worker for "${bundle}" was closed`));
            await worker.terminate();
          },
        });
      } else if (reply.type === 'startFailed') {
        rejectStart(new Error(`STRIP worker for "${bundle}" could not start: ${reply.message}`));
      } else {
        const request = pending.get(reply.id);
        pending.delete(reply.id);
        if (reply.type === 'result') request?.resolve({ entropies: reply.entropies, ms: reply.ms });
        else request?.reject(new Error(`STRIP failed: ${reply.message}`));
      }
    });
  });
}
