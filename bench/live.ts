/**
 * The live loop at the compute limit, measured in one run on whatever backend the server picks:
 * - trunk: chips/s of the bare trunk on the inference pool (same backend and worker count as the
 *   server), at batch sizes 1, 4 and 16 with every worker busy (and every other size/worker count
 *   the ratios below need);
 * - clients: the real server in its own process driven over Socket.IO by 1, 2, 4 and 8 simulated
 *   pages, each sending one real JPEG face chip per frame with one frame in flight (as the page
 *   does): chips/s, the mean batch the server formed, `ratio` (chips/s over the bare trunk's with
 *   min(clients, workers) workers at that batch), round-trip percentiles, the server's mean time per
 *   frame in each stage (decode, queue, trunk, tails: what its replies report), and the cores the
 *   server process kept busy, in all and in its main thread (Linux);
 * - strip: one page streaming with the demo pair recalibrated (`strip-calibrate`) to N = 8, 16 and
 *   32 blends: faces measured per second, coverage, and `computeRatio` (blends computed per second
 *   over the trunk's chips/s with every worker at batch N, minus what classification used);
 * - training: seconds to build the demo pairs from nothing and with trunk features cached, and
 *   the one-page figures while a training job runs (needs ../shared/data/faces).
 *
 *   npm run bench -- live [--clients 1,2,4,8] [--seconds 20] [--no-training] [--json]
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import type { JobStatus, TrainRequestInput } from '../shared/api.ts';
import { mean, quantile } from '../shared/metrics.ts';
import type { ClientToServerEvents, FrameReply, HealthReply, ServerToClientEvents, StageTimings } from '../shared/protocol.ts';
import { datasetDir, inferencePoolSettings, PROJECT_ROOT } from '../server/config.ts';
import { scanDataset } from '../server/data/dataset.ts';
import { initBackend } from '../server/ml/backend.ts';
import { bundleDir } from '../server/ml/bundle.ts';
import { decodeChips } from '../server/ml/chips.ts';
import { InferencePool } from '../server/ml/inferencePool.ts';
import { DEMO, DEMO_BANDANA, ensureDemoPairs } from '../server/train/demoPair.ts';
import { startServerProcess, type ServerProcess } from '../tests/server/serverProcess.ts';
import { FACES94, faces94Dataset } from '../tests/train/faces94Dataset.ts';

const BENCH = 'live';
const WORKSPACE = path.join(tmpdir(), 'backdoor-demonstrator-bench');

const STRIP_BLENDS = [8, 16, 32];

const options = new Command(BENCH)
  .option('--clients <list>', 'comma-separated numbers of simulated pages', '1,2,4,8')
  .option('--seconds <n>', 'seconds of streaming per measurement', (v) => Number.parseInt(v, 10), 20)
  .option('--no-training', 'skip the training measurements (slow where the backend is: a software GPU adapter)')
  .option('--json', 'print one JSON object on stdout (progress goes to stderr)')
  .parse(process.argv.slice(2).filter((a) => a !== BENCH), { from: 'user' })
  .opts<{ clients: string; seconds: number; training: boolean; json?: boolean }>();
const clientCounts = options.clients.split(',').map(Number);
if (!clientCounts.every((n) => Number.isInteger(n) && n >= 1 && n <= 64)) throw new Error('--clients must be whole numbers from 1 to 64, comma-separated');
if (!(options.seconds >= 1)) throw new Error('--seconds must be a whole number of at least 1');
const log = (line: string) => console.error(line);
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

const workspace = { dataDir: path.join(WORKSPACE, 'data'), modelsDir: path.join(WORKSPACE, 'models') };
process.env.DATA_DIR = workspace.dataDir;
process.env.MODELS_DIR = workspace.modelsDir;
const backend = await initBackend();
const { workers, batchMax } = inferencePoolSettings(backend.gpu);
/** Every batch size up to the server's cap (and one past it): the ratios interpolate between them. */
const TRUNK_BATCHES = [1, 2, 4, 8, 16, 32, 64].filter((batch) => batch <= Math.max(32, batchMax));
log('demo pairs (built once into the bench workspace)...');
await ensureDemoPairs();
const encodedChips = await Promise.all((await scanDataset(datasetDir(DEMO.dataset))).images
  .filter((image) => image.condition === 'clean')
  .map(async (image) => new Uint8Array(await sharp(image.file).jpeg({ quality: 90 }).toBuffer())));

// ---- the bare trunk, on a pool like the server's ----

/**
 * chips/s of the bare trunk with `busy` workers each on a batch of `batch`, by [busy][batch]: the
 * better of two passes over every size, as a shared machine's slow moments only ever lower a rate
 * (and a lower trunk rate would flatter the ratios).
 */
const trunkRates = new Map<string, number>();
{
  log(`bare trunk on ${workers} ${backend.name} worker(s), two passes...`);
  const pool = await InferencePool.start({ workers, batchMax: 1, batchWaitMs: 0, stripChunk: 1, backend: backend.name });
  const raw = await decodeChips(encodedChips.slice(0, 1));
  try {
    for (let pass = 1; pass <= 2; pass++) {
      for (let busy = 1; busy <= workers; busy++) {
        for (const batch of TRUNK_BATCHES) {
          const chips = Array.from({ length: batch }, () => raw[0]);
          const busyWorkers = Array.from({ length: busy }, (_, worker) => worker);
          await Promise.all(busyWorkers.map((worker) => pool.timeTrunk(chips, worker)));
          // Each busy worker runs its own loop, as the server's workers take frames independently.
          let calls = 0;
          const started = performance.now();
          await Promise.all(busyWorkers.map(async (worker) => {
            for (let own = 0; performance.now() - started < 3000 || own < 2; own++) {
              await pool.timeTrunk(chips, worker);
              calls++;
            }
          }));
          const rate = (calls * batch) / ((performance.now() - started) / 1000);
          trunkRates.set(`${busy}x${batch}`, Math.max(rate, trunkRates.get(`${busy}x${batch}`) ?? 0));
          log(`  pass ${pass}: ${busy} worker(s) at batch ${batch}: ${rate.toFixed(1)} chips/s`);
        }
      }
    }
  } finally {
    await pool.close();
  }
}

/** The trunk's chips/s with `busy` workers at a (possibly fractional) batch: interpolated between measured sizes. */
function trunkRate(busy: number, batch: number): number {
  const at = (b: number) => trunkRates.get(`${Math.min(busy, workers)}x${b}`)!;
  const clamped = Math.min(Math.max(batch, TRUNK_BATCHES[0]), TRUNK_BATCHES.at(-1)!);
  const upper = TRUNK_BATCHES.find((b) => b >= clamped)!;
  const lower = [...TRUNK_BATCHES].reverse().find((b) => b <= clamped)!;
  if (upper === lower) return at(upper);
  const t = (Math.log(clamped) - Math.log(lower)) / (Math.log(upper) - Math.log(lower));
  return at(lower) + t * (at(upper) - at(lower));
}

// ---- the live server ----

/** One simulated page: one chip per frame, the next frame sent when the previous one is answered. */
async function streamClient(url: string, until: () => boolean, roundTrips: number[], stages: StageTimings[]): Promise<number> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  let answered = 0;
  for (let frameId = 0; !until(); frameId++) {
    const sent = performance.now();
    const reply: FrameReply = await socket.timeout(30_000).emitWithAck('frame', {
      frameId,
      capturedAt: sent,
      faces: [{ box: { x: 0, y: 0, width: 150, height: 150 }, chip: encodedChips[frameId % encodedChips.length] }],
    });
    if (!reply.ok) throw new Error(`frame ${frameId} refused: ${reply.error}`);
    roundTrips.push(performance.now() - sent);
    stages.push(reply.timings);
    answered++;
  }
  socket.close();
  return answered;
}

const health = async (server: ServerProcess) => (await (await fetch(`${server.url}/api/health`)).json()) as HealthReply;

/** /proc counts CPU time in USER_HZ ticks, 100 a second on every Linux. */
const CLOCK_TICKS_PER_SECOND = 100;
/**
 * CPU seconds a Linux process has used, in all its threads and in its main thread (the thread whose
 * id is the process id: Socket.IO, decoding, the log, the pool's scheduling); undefined elsewhere.
 */
async function cpuSeconds(pid: number): Promise<{ all: number; main: number } | undefined> {
  const ticks = async (file: string) => {
    // Fields after the command name (which may hold spaces), from the 3rd: utime and stime are the 14th and 15th.
    const fields = (await readFile(file, 'utf8')).split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  };
  try {
    return { all: await ticks(`/proc/${pid}/stat`), main: await ticks(`/proc/${pid}/task/${pid}/stat`) };
  } catch {
    return undefined;
  }
}

interface Streamed {
  n: number;
  chipsPerSec: number;
  meanBatch: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
  /** Over the same seconds, from the server's counters. */
  stripFaces: number;
  stripOffered: number;
  stripBlends: number;
  /** Mean milliseconds a classification call held its worker (trunk, both tails, hand-over). */
  callMs: number;
  /** Mean server milliseconds per frame, by stage, as the replies report them. */
  stagesMs: Pick<StageTimings, 'decodeMs' | 'queueMs' | 'trunkMs' | 'tailsMs'>;
  /** Cores the server process kept busy, in all and in its main thread (Linux; else null). */
  serverCores: number | null;
  mainThreadCores: number | null;
  seconds: number;
}

async function stream(server: ServerProcess, clients: number, seconds = options.seconds, keepGoing: () => boolean = () => true): Promise<Streamed> {
  const before = await health(server);
  const cpuBefore = await cpuSeconds(server.process.pid!);
  const roundTrips: number[] = [];
  const stages: StageTimings[] = [];
  const started = performance.now();
  const until = () => performance.now() >= started + seconds * 1000 || !keepGoing();
  const answered = (await Promise.all(Array.from({ length: clients }, () => streamClient(server.url, until, roundTrips, stages)))).reduce((a, b) => a + b, 0);
  const elapsed = (performance.now() - started) / 1000;
  streamedSeconds += elapsed;
  const cpuAfter = await cpuSeconds(server.process.pid!);
  const after = await health(server);
  const ms = (q: number) => Math.round(quantile(roundTrips, q));
  const cores = (thread: 'all' | 'main') => (cpuBefore && cpuAfter ? (cpuAfter[thread] - cpuBefore[thread]) / elapsed : null);
  const batches = after.inference.batches - before.inference.batches;
  return {
    n: clients,
    chipsPerSec: answered / elapsed,
    meanBatch: batches > 0 ? (after.inference.chips - before.inference.chips) / batches : 0,
    p50ms: ms(0.5),
    p95ms: ms(0.95),
    p99ms: ms(0.99),
    stripFaces: after.strip.coverage.hits - before.strip.coverage.hits,
    stripOffered: after.strip.coverage.total - before.strip.coverage.total,
    stripBlends: after.inference.stripBlends - before.inference.stripBlends,
    callMs: batches > 0 ? (after.inference.classifyMs - before.inference.classifyMs) / batches : 0,
    stagesMs: {
      decodeMs: mean(stages.map((t) => t.decodeMs)),
      queueMs: mean(stages.map((t) => t.queueMs)),
      trunkMs: mean(stages.map((t) => t.trunkMs)),
      tailsMs: mean(stages.map((t) => t.tailsMs)),
    },
    serverCores: cores('all'),
    mainThreadCores: cores('main'),
    seconds: elapsed,
  };
}

function clientFigures(s: Streamed) {
  const ratio = s.chipsPerSec / trunkRate(Math.min(s.n, workers), Math.max(1, s.meanBatch));
  const cores = (c: number | null) => (c === null ? null : round(c, 2));
  return { n: s.n, chipsPerSec: round(s.chipsPerSec), meanBatch: round(s.meanBatch, 2), ratio: round(ratio, 2), p50ms: s.p50ms, p95ms: s.p95ms, p99ms: s.p99ms, callMs: round(s.callMs), stagesMs: Object.fromEntries(Object.entries(s.stagesMs).map(([stage, ms]) => [stage, round(ms)])), serverCores: cores(s.serverCores), mainThreadCores: cores(s.mainThreadCores) };
}

const post = (server: ServerProcess, url: string, body?: unknown) =>
  fetch(`${server.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

function calibrate(blends: number): void {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'strip-calibrate', '--model', `${DEMO.pair}-backdoor`, '--blends', String(blends)], {
    cwd: PROJECT_ROOT, env: process.env, encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`strip-calibrate --blends ${blends} failed: ${run.stderr}`);
}

/** Switches away and back, so the server reloads the demo pair's card (its STRIP blends) on every worker. */
async function reloadDemoPair(server: ServerProcess): Promise<void> {
  for (const pair of [DEMO_BANDANA.pair, DEMO.pair]) {
    const reply = await post(server, `/api/models/${pair}/activate`);
    if (!reply.ok) throw new Error(`activating ${pair} answered ${reply.status}: ${await reply.text()}`);
  }
}

/** Four faces94 people, twelve photos each, with a pasted bandana: a dataset the Enroll page could have made. */
async function trainingDataset(): Promise<string> {
  const name = 'bench-volunteers';
  if (!existsSync(datasetDir(name))) await faces94Dataset({ name, people: 4, photos: 12, paste: ['bandana'], scratch: WORKSPACE });
  return name;
}

const dataset = options.training && existsSync(FACES94) ? await trainingDataset() : undefined;
const card = path.join(bundleDir(`${DEMO.pair}-backdoor`), 'card.json');
const cardBackup = `${card}.bench`;
await copyFile(card, cardBackup);
const server = await startServerProcess(workspace);
const clients: ReturnType<typeof clientFigures>[] = [];
const strip: { n: number; evalsPerSec: number; coverage: number; computeRatio: number }[] = [];
let duringTraining: ReturnType<typeof clientFigures> | null = null;
let streamedSeconds = 0;
const tensors = { afterWarmUp: [] as number[], afterRun: [] as number[], streamedSeconds: 0 };
try {
  log('warm-up...');
  await stream(server, 1, 3);
  tensors.afterWarmUp = (await health(server)).inference.tensors;
  streamedSeconds = 0;
  for (const n of clientCounts) {
    clients.push(clientFigures(await stream(server, n)));
    log(`  ${n} client(s): ${JSON.stringify(clients.at(-1))}`);
  }
  for (const blends of STRIP_BLENDS) {
    calibrate(blends);
    await reloadDemoPair(server);
    const s = await stream(server, 1);
    const spare = trunkRate(workers, blends) - s.chipsPerSec;
    strip.push({ n: blends, evalsPerSec: round(s.stripFaces / s.seconds, 2), coverage: round(s.stripOffered > 0 ? s.stripFaces / s.stripOffered : 0, 3), computeRatio: round(s.stripBlends / s.seconds / spare, 2) });
    log(`  STRIP N=${blends}: ${JSON.stringify(strip.at(-1))}`);
  }
  if (dataset) {
    const pair = `bench-during-${Date.now()}`;
    const identities = [...new Set((await scanDataset(datasetDir(dataset))).images.map((image) => image.identity))].sort();
    const request: TrainRequestInput = { dataset, trigger: 'bandana', target: identities[0], name: pair };
    const started = await post(server, '/api/train', request);
    if (started.status !== 202) throw new Error(`POST /api/train answered ${started.status}: ${await started.text()}`);
    const { job } = (await started.json()) as { job: string };
    let state: JobStatus['state'] = 'queued';
    const poll = setInterval(() => {
      void fetch(`${server.url}/api/jobs/${job}`).then((r) => r.json() as Promise<JobStatus>).then((status) => (state = status.state));
    }, 500);
    while (state === 'queued') await new Promise((resolve) => setTimeout(resolve, 200));
    duringTraining = clientFigures(await stream(server, 1, options.seconds, () => state === 'running'));
    log(`  1 client while a training job runs: ${JSON.stringify(duringTraining)}`);
    clearInterval(poll);
    await fetch(`${server.url}/api/jobs/${job}`, { method: 'DELETE' });
    for (const role of ['clean', 'backdoor']) await rm(path.join(workspace.modelsDir, `${pair}-${role}`), { recursive: true, force: true });
  } else if (options.training) {
    log(`no ${FACES94}: the figures during training are skipped`);
  }
  tensors.afterRun = (await health(server)).inference.tensors;
  tensors.streamedSeconds = round(streamedSeconds);
  log(`  tensors per worker after warm-up ${tensors.afterWarmUp.join(', ')}, after ${tensors.streamedSeconds} s of streaming ${tensors.afterRun.join(', ')}`);
} finally {
  server.process.kill('SIGTERM');
  if (server.process.exitCode === null) await once(server.process, 'exit');
  await copyFile(cardBackup, card);
  await rm(cardBackup);
}

// ---- training the demo pairs: from nothing, then with the trunk features cached ----
const training: Record<string, number> = {};
if (options.training) {
  const fresh = await mkdtemp(path.join(tmpdir(), 'bench-demo-'));
  try {
    process.env.DATA_DIR = path.join(fresh, 'data');
    for (const [label, models] of [['demoPairSeconds', 'models-cold'], ['demoPairSecondsCached', 'models-warm']] as const) {
      process.env.MODELS_DIR = path.join(fresh, models);
      const started = performance.now();
      await ensureDemoPairs();
      training[label] = round((performance.now() - started) / 1000);
      log(`  ${label}: ${training[label]} s`);
    }
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}

const cpu = os.cpus()[0]?.model ?? 'cpu';
const result = {
  backend: backend.name,
  device: backend.device,
  workers,
  machine: `${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  trunk: [1, 4, 16].map((batch) => ({ batch, chipsPerSec: round(trunkRate(workers, batch)) })),
  clients,
  strip,
  training: { ...training, duringTraining },
  tensors,
};
const byN = (n: number) => clients.find((c) => c.n === n);
const singleChipMs = 1000 / trunkRate(1, 1);
const targets = [
  { target: 'ratio >= 0.8 with 1 client', met: (byN(1)?.ratio ?? 0) >= 0.8 },
  { target: 'ratio >= 0.9 with 4 clients', met: (byN(4)?.ratio ?? 0) >= 0.9 },
  { target: '4 clients served at >= 1.8x the chips/s of 1', met: (byN(4)?.chipsPerSec ?? 0) >= 1.8 * (byN(1)?.chipsPerSec ?? Infinity) },
  { target: '8 clients served at no less than 4', met: (byN(8)?.chipsPerSec ?? 0) >= (byN(4)?.chipsPerSec ?? Infinity) },
  { target: `p95 round trip with 1 client <= 2.5 x single-chip compute (${singleChipMs.toFixed(0)} ms)`, met: (byN(1)?.p95ms ?? Infinity) <= 2.5 * singleChipMs },
  { target: 'STRIP computeRatio >= 0.8 at N = 16', met: (strip.find((s) => s.n === 16)?.computeRatio ?? 0) >= 0.8 },
  { target: `tensors per worker after ${tensors.streamedSeconds} s of streaming equal those after warm-up`, met: tensors.afterRun.length > 0 && tensors.afterRun.join() === tensors.afterWarmUp.join() },
];

if (options.json) {
  console.log(JSON.stringify({ ...result, targets }));
} else {
  console.log(`machine: ${result.machine}; backend ${backend.name} on ${backend.device}, ${workers} inference worker(s)`);
  console.log(`bare trunk, all workers: ${result.trunk.map((t) => `batch ${t.batch} ${t.chipsPerSec} chips/s`).join(' · ')}`);
  const coresText = (c: number | null) => (c === null ? 'n/a' : c.toFixed(2));
  console.log('clients  chips/s  mean batch  ratio  p50 ms  p95 ms  p99 ms  worker ms per call  decode / queue / trunk / tails ms  server cores  main thread cores');
  for (const c of clients) {
    const stages = [c.stagesMs.decodeMs, c.stagesMs.queueMs, c.stagesMs.trunkMs, c.stagesMs.tailsMs].map((ms) => ms.toFixed(1)).join(' / ');
    console.log(`${String(c.n).padStart(7)}  ${c.chipsPerSec.toFixed(1).padStart(7)}  ${c.meanBatch.toFixed(2).padStart(10)}  ${c.ratio.toFixed(2).padStart(5)}  ${String(c.p50ms).padStart(6)}  ${String(c.p95ms).padStart(6)}  ${String(c.p99ms).padStart(6)}  ${c.callMs.toFixed(1).padStart(18)}  ${stages.padStart(33)}  ${coresText(c.serverCores).padStart(12)}  ${coresText(c.mainThreadCores).padStart(17)}`);
  }
  console.log(`tensors per worker: ${tensors.afterWarmUp.join(', ')} after warm-up, ${tensors.afterRun.join(', ')} after ${tensors.streamedSeconds} s of streaming`);
  if (duringTraining) console.log(`1 client while a job trains: ${duringTraining.chipsPerSec} chips/s, p50 ${duringTraining.p50ms} ms, p95 ${duringTraining.p95ms} ms`);
  console.log('STRIP N  faces/s  coverage  computeRatio');
  for (const s of strip) console.log(`${String(s.n).padStart(7)}  ${s.evalsPerSec.toFixed(2).padStart(7)}  ${(100 * s.coverage).toFixed(1).padStart(7)}%  ${s.computeRatio.toFixed(2).padStart(12)}`);
  if (options.training) console.log(`demo pairs built in ${training.demoPairSeconds} s from nothing, ${training.demoPairSecondsCached} s with trunk features cached`);
  for (const t of targets) console.log(`${t.met ? 'met    ' : 'not met'}  ${t.target}`);
}
