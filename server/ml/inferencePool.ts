import { Worker } from 'node:worker_threads';
import { packChips } from './chips.ts';
import { useHeadlessGl } from './webgpu.ts';
import type { BackendInfo, BackendName } from './backend.ts';
import type { PairProbabilities } from './pair.ts';

export interface InferenceWorkerData {
  entry: string;
  index: number;
  backend: BackendName;
  /** The largest batch it will be sent: on a GPU, warmed up too (compiling its shaders then, not on a live frame). */
  batchMax: number;
}

export type InferenceRequest =
  | { type: 'load' | 'unload'; id: number; pair: string }
  | { type: 'classify'; id: number; pair: string; pixels: ArrayBuffer }
  /** STRIP blends [from, to) of the `blends` each chip gets, partners drawn from `seed` (the same in every call of a job). */
  | { type: 'strip'; id: number; pair: string; pixels: ArrayBuffer; blends: number; from: number; to: number; seed: string }
  | { type: 'trunk'; id: number; pixels: ArrayBuffer };

export type InferenceReply =
  | { type: 'ready'; backend: BackendInfo }
  | { type: 'startFailed'; message: string }
  | { type: 'failed'; id: number; message: string }
  | { type: 'loaded'; id: number; tensors: number }
  | { type: 'unloaded'; id: number; tensors: number }
  | ({ type: 'classified'; id: number; tensors: number } & PairProbabilities)
  | { type: 'stripped'; id: number; entropies: number[]; ms: number; tensors: number }
  | { type: 'trunked'; id: number; ms: number; tensors: number };

type Reply<T extends InferenceReply['type']> = Extract<InferenceReply, { type: T }>;
/** Requests without their id, which the pool assigns. */
type Request = InferenceRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** STRIP's answer: each chip's normalised mean entropy, and the milliseconds workers spent on it. */
export interface StripRun { entropies: number[]; ms: number }

/** Work the pool runs on the capacity classification leaves over: STRIP blends. */
export interface BackgroundJob {
  pair: string;
  chips: readonly Uint8Array[];
  blends: number;
  /** Called once: the entropies, the error that stopped it, or `skipped` (its pair was switched away before it ran). */
  settle(outcome: StripRun | Error | 'skipped'): void;
}

/**
 * Hands the pool its next background job when a worker is free and no frame waits; the pair it may
 * use is the one live, and `chipBudget` the chips one trunk call may take (a job's chips x blends).
 */
export type BackgroundSource = (pair: string, chipBudget: number) => BackgroundJob | undefined;

export interface Classification extends PairProbabilities {
  /** The pair that classified the chips: the live one when their batch was sent. */
  pair: string;
  /** Chips in the trunk call the frame was part of. */
  batch: number;
}

export interface PoolStats {
  workers: number;
  /** Trunk calls made for classification, and the chips they held. */
  batches: number;
  chips: number;
  /** STRIP blends computed (each a trunk pass of one chip). */
  stripBlends: number;
  /** Milliseconds workers spent on classification and on STRIP, summed over workers. */
  classifyMs: number;
  stripMs: number;
  /** Live tensors on each worker after its last request: constant once warmed up, anything else is a leak. */
  tensors: number[];
}

export interface PoolOptions {
  workers: number;
  /** Most chips in one trunk call. */
  batchMax: number;
  /** How long a frame waits for others to share its trunk call while a worker is free. */
  batchWaitMs: number;
  /** Most blended chips one STRIP call takes when the pool has a single worker (a frame arriving meanwhile waits for it). */
  stripChunk: number;
  /** The tensor backend every worker starts (the server's own). */
  backend: BackendName;
}

interface Waiting { chips: readonly Uint8Array[]; since: number; resolve(c: Classification): void; reject(e: Error): void }

/** A background job under way: its packed chips, the partner seed all its calls share, its running sums. */
interface StripJob { job: BackgroundJob; pixels: Uint8Array; seed: string; sums: number[]; callsLeft: number; ms: number; settled: boolean }

/** One STRIP call: blends [from, to) of every chip of a job. */
interface StripCall { strip: StripJob; from: number; to: number }

class PoolWorker {
  busy = false;
  /** Live tensors after the last request it answered. */
  tensors = 0;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(r: InferenceReply): void; reject(e: Error): void }>();
  private stopped: Error | undefined;

  private constructor(readonly index: number, private readonly worker: Worker, readonly backend: BackendInfo) {
    worker.on('message', (reply: InferenceReply) => {
      if (!('id' in reply)) return;
      if ('tensors' in reply) this.tensors = reply.tensors;
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.type === 'failed') waiting?.reject(new Error(reply.message));
      else waiting?.resolve(reply);
    });
  }

  static start(index: number, { backend, batchMax }: PoolOptions, onStop: (worker: PoolWorker, error: Error) => void): Promise<PoolWorker> {
    const workerData: InferenceWorkerData = { entry: new URL('./inferenceWorker.ts', import.meta.url).href, index, backend, batchMax };
    const worker = new Worker(new URL('../workerBoot.mjs', import.meta.url), { workerData });
    return new Promise((resolve, reject) => {
      let started: PoolWorker | undefined;
      const stop = (error: Error) => {
        reject(error);
        if (started && !started.stopped) {
          started.stopped = error;
          for (const p of started.pending.values()) p.reject(error);
          started.pending.clear();
          onStop(started, error);
        }
      };
      worker.on('error', (error) => stop(new Error(`inference worker ${index} crashed: ${error.message}`)));
      worker.on('exit', (code) => stop(new Error(`inference worker ${index} stopped (exit code ${code})`)));
      worker.once('message', (reply: InferenceReply) => {
        if (reply.type === 'ready') resolve((started = new PoolWorker(index, worker, reply.backend)));
        else if (reply.type === 'startFailed') reject(new Error(`inference worker ${index} could not start: ${reply.message}`));
      });
    });
  }

  request<T extends InferenceReply['type']>(request: Request): Promise<Reply<T>> {
    if (this.stopped) return Promise.reject(this.stopped);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: InferenceReply) => void, reject });
      const transfer = 'pixels' in request ? [request.pixels] : [];
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  async close(): Promise<void> {
    this.stopped ??= new Error(`inference worker ${this.index} was closed`);
    for (const p of this.pending.values()) p.reject(this.stopped);
    this.pending.clear();
    await this.worker.terminate();
  }
}

/**
 * The server's inference threads, shared by every client. Frames from all clients queue in one
 * line and go out in batches (up to `batchMax` chips, one trunk pass feeding both tails) to
 * whichever worker is free. Classification comes first: a worker takes background work (STRIP)
 * only when no frame waits, and while another worker stays free for the next frame.
 */
export class InferencePool {
  private readonly queue: Waiting[] = [];
  /** STRIP calls of jobs already begun, in order. */
  private readonly stripCalls: StripCall[] = [];
  private stripJobs = 0;
  private waitTimer: NodeJS.Timeout | undefined;
  private background: BackgroundSource | undefined;
  private live: string | undefined;
  private readonly counters: Omit<PoolStats, 'workers' | 'tensors'> = { batches: 0, chips: 0, stripBlends: 0, classifyMs: 0, stripMs: 0 };

  private constructor(private readonly workers: PoolWorker[], private readonly options: PoolOptions) {}

  static async start(options: PoolOptions): Promise<InferencePool> {
    if (options.backend === 'webgpu') useHeadlessGl();
    const workers: PoolWorker[] = [];
    let pool: InferencePool | undefined;
    const onStop = (worker: PoolWorker, error: Error) => {
      console.error(error.message);
      pool?.drop(worker);
    };
    const started = await Promise.allSettled(Array.from({ length: options.workers }, (_, i) => PoolWorker.start(i, options, onStop)));
    for (const result of started) if (result.status === 'fulfilled') workers.push(result.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(workers.map((w) => w.close()));
      throw failed.reason;
    }
    pool = new InferencePool(workers, options);
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** The backend the workers compute on. */
  get backend(): BackendInfo {
    return this.workers[0]?.backend ?? { name: this.options.backend, gpu: false, device: 'no inference worker left' };
  }

  /** Loads a pair (and warms it up) on every worker. */
  async load(pair: string): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'load', pair })));
  }

  /** Makes a loaded pair the one frames are classified with from now on. */
  use(pair: string): void {
    this.live = pair;
  }

  /** Frees a pair on every worker, after whatever they were sent before. */
  async unload(pair: string): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'unload', pair })));
  }

  setBackground(source: BackgroundSource): void {
    this.background = source;
    this.pump();
  }

  /** Background work is waiting: a free worker takes it if no frame needs one. */
  wake(): void {
    this.pump();
  }

  /** Classifies one frame's raw chips with the live pair, batched with whatever else waits. */
  classify(chips: readonly Uint8Array[]): Promise<Classification> {
    if (this.workers.length === 0) return Promise.reject(new Error('the inference pool has no worker left (see the server log)'));
    return new Promise((resolve, reject) => {
      this.queue.push({ chips, since: performance.now(), resolve, reject });
      this.pump();
    });
  }

  stats(): PoolStats {
    return { workers: this.workers.length, ...this.counters, tensors: this.workers.map((w) => w.tensors) };
  }

  /** Milliseconds the bare trunk takes on one worker (by index) on a batch of the given chips (for benchmarks). */
  async timeTrunk(chips: readonly Uint8Array[], worker: number): Promise<number> {
    if (!this.workers[worker]) throw new Error(`the pool has no worker ${worker}`);
    return (await this.workers[worker].request<'trunked'>({ type: 'trunk', pixels: packChips(chips).buffer as ArrayBuffer })).ms;
  }

  async close(): Promise<void> {
    clearTimeout(this.waitTimer);
    for (const waiting of this.queue.splice(0)) waiting.reject(new Error('the server is shutting down'));
    for (const call of this.stripCalls.splice(0)) this.settleStrip(call.strip, 'skipped');
    await Promise.all(this.workers.splice(0).map((w) => w.close()));
  }

  private drop(worker: PoolWorker): void {
    const at = this.workers.indexOf(worker);
    if (at >= 0) this.workers.splice(at, 1);
    if (this.workers.length > 0) return;
    const error = new Error('the inference pool has no worker left (see the server log)');
    for (const waiting of this.queue.splice(0)) waiting.reject(error);
    for (const call of this.stripCalls.splice(0)) this.settleStrip(call.strip, error);
  }

  private pump(): void {
    for (;;) {
      const idle = this.workers.filter((w) => !w.busy);
      if (idle.length === 0 || this.live === undefined) return;
      if (this.queue.length > 0) {
        const queued = this.queue.reduce((sum, w) => sum + w.chips.length, 0);
        const waited = performance.now() - this.queue[0].since;
        if (queued < this.options.batchMax && waited < this.options.batchWaitMs) {
          this.waitTimer ??= setTimeout(() => {
            this.waitTimer = undefined;
            this.pump();
          }, this.options.batchWaitMs - waited);
          return;
        }
        this.sendBatch(idle[0], this.live);
      } else if (idle.length >= Math.min(2, this.workers.length)) {
        const call = this.nextStripCall(this.live);
        if (!call) return;
        this.sendStrip(idle[0], call);
      } else {
        return;
      }
    }
  }

  private sendBatch(worker: PoolWorker, pair: string): void {
    const batch: Waiting[] = [];
    let chips = 0;
    while (this.queue.length > 0 && (batch.length === 0 || chips + this.queue[0].chips.length <= this.options.batchMax)) {
      const next = this.queue.shift()!;
      batch.push(next);
      chips += next.chips.length;
    }
    const pixels = packChips(batch.flatMap((w) => w.chips));
    worker.busy = true;
    const started = performance.now();
    worker.request<'classified'>({ type: 'classify', pair, pixels: pixels.buffer as ArrayBuffer }).then(
      (reply) => {
        this.counters.batches += 1;
        this.counters.chips += chips;
        this.counters.classifyMs += performance.now() - started;
        const classes = { clean: reply.clean.length / chips, backdoor: reply.backdoor.length / chips };
        let offset = 0;
        for (const waiting of batch) {
          const n = waiting.chips.length;
          waiting.resolve({
            pair,
            batch: chips,
            clean: reply.clean.slice(offset * classes.clean, (offset + n) * classes.clean),
            backdoor: reply.backdoor.slice(offset * classes.backdoor, (offset + n) * classes.backdoor),
            trunkMs: reply.trunkMs,
            tailsMs: reply.tailsMs,
          });
          offset += n;
        }
      },
      (error: Error) => batch.forEach((waiting) => waiting.reject(error)),
    ).finally(() => {
      worker.busy = false;
      this.pump();
    });
  }

  /**
   * Blended chips one STRIP call may take: up to the batch cap while another worker stays free for
   * frames, else the STRIP chunk, so that a frame never waits long for the only worker.
   */
  private get stripBudget(): number {
    return this.workers.length > 1 ? this.options.batchMax : this.options.stripChunk;
  }

  /** The next STRIP call: the rest of a job already begun, else a new job cut into calls within the budget. */
  private nextStripCall(live: string): StripCall | undefined {
    while (this.stripCalls.length > 0) {
      const call = this.stripCalls.shift()!;
      if (call.strip.settled) continue;
      if (call.strip.job.pair === live) return call;
      this.settleStrip(call.strip, 'skipped');
    }
    const budget = this.stripBudget;
    const job = this.background?.(live, budget);
    if (!job) return undefined;
    const strip: StripJob = { job, pixels: packChips(job.chips), seed: `strip-live:${this.stripJobs++}`, sums: job.chips.map(() => 0), callsLeft: 0, ms: 0, settled: false };
    const blendsPerCall = Math.max(1, Math.floor(budget / job.chips.length));
    for (let from = 0; from < job.blends; from += blendsPerCall) {
      this.stripCalls.push({ strip, from, to: Math.min(job.blends, from + blendsPerCall) });
      strip.callsLeft += 1;
    }
    return this.stripCalls.shift();
  }

  private settleStrip(strip: StripJob, outcome: StripRun | Error | 'skipped'): void {
    if (strip.settled) return;
    strip.settled = true;
    strip.job.settle(outcome);
  }

  private sendStrip(worker: PoolWorker, { strip, from, to }: StripCall): void {
    const { job } = strip;
    worker.busy = true;
    const started = performance.now();
    worker.request<'stripped'>({ type: 'strip', pair: job.pair, pixels: strip.pixels.slice().buffer, blends: job.blends, from, to, seed: strip.seed }).then(
      (reply) => {
        this.counters.stripBlends += job.chips.length * (to - from);
        this.counters.stripMs += performance.now() - started;
        strip.ms += reply.ms;
        reply.entropies.forEach((entropy, i) => (strip.sums[i] += entropy * (to - from)));
        strip.callsLeft -= 1;
        if (strip.callsLeft === 0) this.settleStrip(strip, { entropies: strip.sums.map((sum) => sum / job.blends), ms: strip.ms });
      },
      (error: Error) => this.settleStrip(strip, error),
    ).finally(() => {
      worker.busy = false;
      this.pump();
    });
  }
}
