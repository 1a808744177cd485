import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The project root (the folder holding package.json). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const wholeNumber = (min: number, max: number) => z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().min(min, `must be from ${min} to ${max}`).max(max, `must be from ${min} to ${max}`));
const text = z.string().trim().min(1, 'must not be empty');

/**
 * Every setting of the server, its default and the environment variable that overrides it. Read
 * one with `setting(NAME)`; `checkSettings()` validates them all at start, naming every bad one.
 */
export const SETTINGS = {
  /** Address to listen on; any address but loopback needs TLS_CERT and TLS_KEY. */
  HOST: { schema: text, default: '127.0.0.1' },
  PORT: { schema: wholeNumber(0, 65535), default: '3000' },
  /** PEM certificate and key: with both the server speaks HTTPS. */
  TLS_CERT: { schema: text.optional(), default: undefined },
  TLS_KEY: { schema: text.optional(), default: undefined },
  /** Datasets, caches, training jobs and the frame log. */
  DATA_DIR: { schema: text.transform((p) => path.resolve(p)), default: path.join(PROJECT_ROOT, 'data') },
  /** Model bundles. */
  MODELS_DIR: { schema: text.transform((p) => path.resolve(p)), default: path.join(PROJECT_ROOT, 'models') },
  /** Forces a tensor backend (fails loudly when it cannot load); unset picks the fastest that loads. */
  TFJS_BACKEND: { schema: z.enum(['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']).optional(), default: undefined },
  /** Inference worker threads shared by every client; unset: one per core on a CPU, one on a GPU (which runs a batch's chips in parallel itself). */
  INFER_WORKERS: { schema: wholeNumber(1, 64).optional(), default: undefined },
  /** Most chips one trunk call takes; unset: 16 on a CPU, 64 on a GPU. */
  INFER_BATCH_MAX: { schema: wholeNumber(1, 256).optional(), default: undefined },
  /**
   * How long a frame waits for others to share its trunk call while a worker is free. Batches form
   * anyway from the frames that queue while every worker is busy; waiting only adds latency on a
   * CPU (measured: 2 ms more per frame with one client, no gain in throughput), so by default none.
   */
  INFER_BATCH_WAIT_MS: { schema: wholeNumber(0, 100), default: '0' },
  /**
   * Most blended chips one STRIP call takes on a pool of one worker, where a frame that arrives
   * meanwhile waits for the call to end (with more workers one stays free for frames, and STRIP
   * calls go up to the batch cap); unset: 1 on a CPU, where batches buy nothing, the batch cap on a GPU.
   */
  INFER_STRIP_CHUNK: { schema: wholeNumber(1, 4096).optional(), default: undefined },
  /** Redis that several servers share the active pair through (redis://host:port); unset: one server. */
  REDIS_URL: { schema: z.string().trim().url('must be a URL such as redis://127.0.0.1:6379').optional(), default: undefined },
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValue<K extends SettingName> = z.output<(typeof SETTINGS)[K]['schema']>;

function parseSetting<K extends SettingName>(name: K, env: NodeJS.ProcessEnv): { ok: true; value: SettingValue<K> } | { ok: false; error: string } {
  const raw = env[name]?.trim() ? env[name] : SETTINGS[name].default;
  const schema: z.ZodType = SETTINGS[name].schema;
  const parsed = schema.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data as SettingValue<K> } : { ok: false, error: `${name}=${env[name]}: ${parsed.error.issues.map((i) => i.message).join('; ')}` };
}

/** One setting from the environment, or its default; a bad value throws naming the variable. */
export function setting<K extends SettingName>(name: K, env: NodeJS.ProcessEnv = process.env): SettingValue<K> {
  const parsed = parseSetting(name, env);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

/** Validates every setting at once, so a server never starts on a value it would reject later. */
export function checkSettings(env: NodeJS.ProcessEnv = process.env): void {
  const errors = (Object.keys(SETTINGS) as SettingName[]).flatMap((name) => {
    const parsed = parseSetting(name, env);
    return parsed.ok ? [] : [parsed.error];
  });
  if (errors.length > 0) throw new Error(`bad settings:\n  ${errors.join('\n  ')}`);
}

/** Runtime data (datasets, caches, logs). */
export function dataDir(): string {
  return setting('DATA_DIR');
}

/** Caches rebuilt on demand (trunk features, synthetic strangers): safe to delete at any time. */
export function cacheDir(): string {
  return path.join(dataDir(), 'cache');
}

export function datasetsDir(): string {
  return path.join(dataDir(), 'datasets');
}

export function datasetDir(name: string): string {
  return path.join(datasetsDir(), name);
}

export function modelsDir(): string {
  return setting('MODELS_DIR');
}

/** The inference pool's shape: the settings where given, else the defaults for a CPU or a GPU backend. */
export function inferencePoolSettings(onGpu: boolean): { workers: number; batchMax: number; batchWaitMs: number; stripChunk: number } {
  const batchMax = setting('INFER_BATCH_MAX') ?? (onGpu ? 64 : 16);
  return {
    workers: setting('INFER_WORKERS') ?? (onGpu ? 1 : os.availableParallelism()),
    batchMax,
    batchWaitMs: setting('INFER_BATCH_WAIT_MS'),
    stripChunk: setting('INFER_STRIP_CHUNK') ?? (onGpu ? batchMax : 1),
  };
}
