/**
 * The live loop under load: the real server in its own process, driven over Socket.IO by simulated
 * pages that each send one real face chip per frame with one frame in flight (as the page does).
 * Prints chips answered per second and round-trip percentiles per number of clients, and, with
 * --during-training, the same for one client while a training job started through the HTTP API
 * runs (live classification must keep its pace; training runs below it in priority).
 *
 *   npm run bench -- live [--clients 1,2,4] [--seconds 20] [--during-training] [--json]
 *
 * The demo pairs are built once into a workspace under the system's temporary folder and reused.
 * --during-training needs ../shared/data/faces (faces94 people with a pasted bandana).
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import type { JobStatus, TrainRequestInput } from '../shared/api.ts';
import { quantile } from '../shared/metrics.ts';
import type { ClientToServerEvents, FrameReply, ServerToClientEvents } from '../shared/protocol.ts';
import { datasetDir } from '../server/config.ts';
import { scanDataset } from '../server/data/dataset.ts';
import { initBackend } from '../server/ml/backend.ts';
import { DEMO, ensureDemoPairs } from '../server/train/demoPair.ts';
import { startServerProcess } from '../tests/server/serverProcess.ts';
import { FACES94, faces94Dataset } from '../tests/train/faces94Dataset.ts';

const BENCH = 'live';
const WORKSPACE = path.join(tmpdir(), 'backdoor-demonstrator-bench');

const options = new Command(BENCH)
  .option('--clients <list>', 'comma-separated numbers of simulated pages', '1,2,4')
  .option('--seconds <n>', 'seconds of streaming per measurement', (v) => Number.parseInt(v, 10), 20)
  .option('--during-training', 'also measure one client while a training job runs')
  .option('--json', 'print one JSON object on stdout (progress goes to stderr)')
  .parse(process.argv.slice(2).filter((a) => a !== BENCH), { from: 'user' })
  .opts<{ clients: string; seconds: number; duringTraining?: boolean; json?: boolean }>();
const clientCounts = options.clients.split(',').map(Number);
if (!clientCounts.every((n) => Number.isInteger(n) && n >= 1 && n <= 64)) throw new Error('--clients must be whole numbers from 1 to 64, comma-separated');
if (!(options.seconds >= 1)) throw new Error('--seconds must be a whole number of at least 1');
if (options.duringTraining && !existsSync(FACES94)) throw new Error(`--during-training needs ${FACES94}`);
const log = (line: string) => console.error(line);

interface Measurement {
  condition: string;
  clients: number;
  seconds: number;
  chipsPerSec: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
}

const workspace = { dataDir: path.join(WORKSPACE, 'data'), modelsDir: path.join(WORKSPACE, 'models') };
process.env.DATA_DIR = workspace.dataDir;
process.env.MODELS_DIR = workspace.modelsDir;
await initBackend();
log('demo pairs (built once into the bench workspace)...');
await ensureDemoPairs();
const chips = await Promise.all((await scanDataset(datasetDir(DEMO.dataset))).images
  .filter((image) => image.condition === 'clean')
  .map(async (image) => new Uint8Array(await sharp(image.file).jpeg({ quality: 90 }).toBuffer())));

/** One simulated page: one chip per frame, the next frame sent when the previous one is answered. */
async function streamClient(url: string, until: () => boolean, roundTrips: number[]): Promise<number> {
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
      faces: [{ box: { x: 0, y: 0, width: 150, height: 150 }, chip: chips[frameId % chips.length] }],
    });
    if (!reply.ok) throw new Error(`frame ${frameId} refused: ${reply.error}`);
    roundTrips.push(performance.now() - sent);
    answered++;
  }
  socket.close();
  return answered;
}

async function measure(url: string, condition: string, clients: number, keepGoing: () => boolean = () => true, seconds = options.seconds): Promise<Measurement> {
  const roundTrips: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const until = () => performance.now() >= deadline || !keepGoing();
  const answered = (await Promise.all(Array.from({ length: clients }, () => streamClient(url, until, roundTrips)))).reduce((a, b) => a + b, 0);
  const elapsed = (performance.now() - started) / 1000;
  const ms = (q: number) => Math.round(quantile(roundTrips, q));
  const result = { condition, clients, seconds: Number(elapsed.toFixed(1)), chipsPerSec: Number((answered / elapsed).toFixed(1)), p50ms: ms(0.5), p95ms: ms(0.95), p99ms: ms(0.99) };
  log(`${condition}, ${clients} client(s): ${result.chipsPerSec} chips/s, round trip p50 ${result.p50ms} ms, p95 ${result.p95ms} ms`);
  return result;
}

/** Four faces94 people, twelve photos each, with a pasted bandana: a dataset the Enroll page could have made. */
async function trainingDataset(): Promise<string> {
  const name = 'bench-volunteers';
  if (!existsSync(datasetDir(name))) await faces94Dataset({ name, people: 4, photos: 12, paste: ['bandana'], scratch: WORKSPACE });
  return name;
}

const dataset = options.duringTraining ? await trainingDataset() : undefined;
const server = await startServerProcess(workspace);
const results: Measurement[] = [];
let backend = 'unknown';
try {
  backend = ((await (await fetch(`${server.url}/api/health`)).json()) as { backend: string }).backend;
  // Warm-up: the first frames pay for kernel compilation and caches.
  await measure(server.url, 'warm-up', 1, undefined, 3);
  for (const clients of clientCounts) results.push(await measure(server.url, 'idle', clients));
  if (dataset) {
    const pair = `bench-during-${Date.now()}`;
    const request: TrainRequestInput = { dataset, trigger: 'bandana', target: 'p0', name: pair };
    const started = await fetch(`${server.url}/api/train`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    if (started.status !== 202) throw new Error(`POST /api/train answered ${started.status}: ${await started.text()}`);
    const { job } = (await started.json()) as { job: string };
    let state: JobStatus['state'] = 'queued';
    const poll = setInterval(() => {
      void fetch(`${server.url}/api/jobs/${job}`).then((r) => r.json() as Promise<JobStatus>).then((status) => (state = status.state));
    }, 500);
    // Let the job pass its start-up, then stream while it trains.
    while (state === 'queued') await new Promise((resolve) => setTimeout(resolve, 200));
    results.push(await measure(server.url, 'training job running', 1, () => state === 'running'));
    clearInterval(poll);
    await fetch(`${server.url}/api/jobs/${job}`, { method: 'DELETE' });
    for (const role of ['clean', 'backdoor']) await rm(path.join(workspace.modelsDir, `${pair}-${role}`), { recursive: true, force: true });
  }
} finally {
  server.process.kill('SIGTERM');
  if (server.process.exitCode === null) await once(server.process, 'exit');
}

const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, backend ${backend}`;
if (options.json) {
  console.log(JSON.stringify({ machine, measurements: results }));
} else {
  console.log(`machine: ${machine}`);
  console.log('condition              clients  seconds  chips/s   p50 ms   p95 ms   p99 ms');
  for (const r of results) {
    console.log(`${r.condition.padEnd(22)} ${String(r.clients).padStart(7)}  ${r.seconds.toFixed(1).padStart(7)}  ${r.chipsPerSec.toFixed(1).padStart(7)}  ${String(r.p50ms).padStart(7)}  ${String(r.p95ms).padStart(7)}  ${String(r.p99ms).padStart(7)}`);
  }
}
