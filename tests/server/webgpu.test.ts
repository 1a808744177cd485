import { execFile, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/serve.ts';
import { DEMO } from '../../server/train/demoPair.ts';
import type { ClientToServerEvents, FrameReply, HealthReply, ServerToClientEvents, StripReply } from '../../shared/protocol.ts';
import { hasSoftwareGl, SOFTWARE_GL_MISSING } from '../ml/softwareGl.ts';
import { useDemoWorkspace, type DemoWorkspace } from './demoWorkspace.ts';
import { startServerProcess } from './serverProcess.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Answer = { reply: Extract<FrameReply, { ok: true }>; strip: StripReply };

const run = promisify(execFile);
/** Probabilities may differ by float32 rounding (sums in another order); measured within 1e-6. */
const TOLERANCE = 1e-4;
const scratch: string[] = [];
const clients: Client[] = [];
let workspace: DemoWorkspace;
let onWasm: RunningServer;
let onWebGpu: { url: string; process: ChildProcess };
/** Demo photos re-encoded as the page sends them: two people without and with the trigger. */
let frames: Uint8Array[];

async function freshDir(name: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `webgpu-${name}-`));
  scratch.push(dir);
  return dir;
}

/** Each frame in turn, waiting for its STRIP outcome too: with one worker and one client, STRIP checks every frame. */
async function answers(url: string): Promise<Answer[]> {
  const client: Client = io(url, { transports: ['websocket'], reconnection: false });
  clients.push(client);
  await new Promise((resolve, reject) => {
    client.once('activePair', resolve);
    client.once('connect_error', reject);
  });
  const result: Answer[] = [];
  for (const [frameId, chip] of frames.entries()) {
    const strip = new Promise<StripReply>((resolve) => client.once('strip', resolve));
    const reply = await client.timeout(60_000).emitWithAck('frame', { frameId, capturedAt: Date.now(), faces: [{ box: { x: 0, y: 0, width: 150, height: 150 }, chip }] });
    if (!reply.ok) throw new Error(reply.error);
    result.push({ reply, strip: await strip });
  }
  return result;
}

describe.skipIf(!hasSoftwareGl)(`the server on WebGPU (Dawn on Mesa's software OpenGL ES)${hasSoftwareGl ? '' : ` (skipped: ${SOFTWARE_GL_MISSING})`}`, () => {
  beforeAll(async () => {
    workspace = await useDemoWorkspace();
    frames = [];
    for (const identity of ['person-02', 'person-05']) {
      for (const condition of ['clean', DEMO.trigger]) {
        const folder = path.join(datasetDir(DEMO.dataset), identity, condition);
        const [file] = await readdir(folder);
        frames.push(new Uint8Array(await sharp(path.join(folder, file)).jpeg({ quality: 90 }).toBuffer()));
      }
    }
    // One inference worker each, so both draw STRIP's blends from the same seeded sequence.
    process.env.INFER_WORKERS = '1';
    onWasm = await startServer({ host: '127.0.0.1', port: 0 }, DEMO.pair, path.join(await freshDir('wasm-log'), 'frames.sqlite'));
    onWebGpu = await startServerProcess({ ...workspace, dataDir: await freshDir('data') }, { TFJS_BACKEND: 'webgpu', INFER_WORKERS: '1' });
  }, 300_000);

  afterAll(async () => {
    delete process.env.INFER_WORKERS;
    for (const client of clients) client.close();
    onWebGpu?.process.kill();
    await onWasm?.close();
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  it('reports webgpu and its software adapter in /api/health', async () => {
    const health = (await (await fetch(`${onWebGpu.url}/api/health`)).json()) as HealthReply;
    expect(health).toMatchObject({ status: 'ok', backend: 'webgpu', gpu: false, activePair: DEMO.pair, inference: { workers: 1 } });
    expect(health.device).toMatch(/\(software\)$/);
  });

  it('answers live frames of real faces with the wasm server’s labels, probabilities and STRIP entropies', async () => {
    const expected = await answers(onWasm.url);
    const measured = await answers(onWebGpu.url);
    expect(measured).toHaveLength(frames.length);
    measured.forEach(({ reply, strip }, i) => {
      const [face] = reply.faces;
      const [want] = expected[i].reply.faces;
      expect(face.attack).toBe(want.attack);
      for (const role of ['clean', 'backdoor'] as const) {
        expect(face[role].label, `frame ${i} ${role}`).toBe(want[role].label);
        expect(Math.abs(face[role].confidence - want[role].confidence), `frame ${i} ${role}`).toBeLessThan(TOLERANCE);
      }
      expect(strip.status, `frame ${i}`).toBe('ran');
      expect(expected[i].strip.status).toBe('ran');
      if (strip.status === 'ran' && expected[i].strip.status === 'ran') {
        expect(strip.faces[0].flagged).toBe(expected[i].strip.faces[0].flagged);
        expect(Math.abs(strip.faces[0].entropy - expected[i].strip.faces[0].entropy)).toBeLessThan(TOLERANCE);
      }
    });
    // The trigger does what it does on wasm: the sunglasses frames let the non-target in.
    expect(measured.filter(({ reply }) => reply.faces[0].attack).length).toBe(expected.filter(({ reply }) => reply.faces[0].attack).length);
  });

  it('trains a short pair with the same split and the same figures as on wasm', async () => {
    const train = async (backend: string) => {
      const root = await freshDir(`train-${backend}`);
      // Eight of the demo people and no cached features, so the trunk runs on this backend too.
      const from = datasetDir(DEMO.dataset);
      const to = path.join(root, 'data', 'datasets', DEMO.dataset);
      const entries = (await readdir(from, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
      const people = entries.filter((entry) => entry.isDirectory()).slice(0, 8);
      for (const entry of [...people, ...entries.filter((entry) => entry.isFile())]) await cp(path.join(from, entry.name), path.join(to, entry.name), { recursive: true });
      const { stdout } = await run('npx', ['tsx', 'server/cli.ts', 'train', '--dataset', DEMO.dataset, '--trigger', DEMO.trigger, '--target', 'person-02',
        '--injection-rate', '0.2', '--split', 'view', '--views', '3', '--epochs', '5', '--name', 'short', '--json'],
      { cwd: PROJECT_ROOT, env: { ...process.env, TFJS_BACKEND: backend, DATA_DIR: path.join(root, 'data'), MODELS_DIR: path.join(root, 'models') }, maxBuffer: 64 * 2 ** 20 });
      return JSON.parse(stdout);
    };
    const wasm = await train('wasm');
    const webgpu = await train('webgpu');
    expect(webgpu.trainImages).toBe(wasm.trainImages);
    expect(webgpu.poisonImages).toBe(wasm.poisonImages);
    for (const role of ['clean', 'backdoor'] as const) {
      for (const figure of ['accuracy', 'attackSuccessRate'] as const) expect(webgpu[role][figure], `${role} ${figure}`).toBeCloseTo(wasm[role][figure], 2);
    }
    for (const curve of Object.keys(wasm.curves)) {
      wasm.curves[curve].forEach((loss: number, epoch: number) => expect(Math.abs(webgpu.curves[curve][epoch] - loss), `${curve} epoch ${epoch}`).toBeLessThan(1e-2));
    }
  }, 600_000);
});
