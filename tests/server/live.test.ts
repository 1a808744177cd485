import { execFile, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFaceModel } from '../../scripts/faceModel.ts';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/serve.ts';
import { DEMO } from '../../server/train/demoPair.ts';
import {
  MAX_CHIP_BYTES,
  MAX_FACES_PER_FRAME,
  MEDIAPIPE_PATHS,
  type ClientToServerEvents,
  type FramePayload,
  type FrameReply,
  type HealthReply,
  type ModelsReply,
  type PairSummary,
  type ServerToClientEvents,
} from '../../shared/protocol.ts';
import { useDemoWorkspace, type DemoWorkspace } from './demoWorkspace.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type OkReply = Extract<FrameReply, { ok: true }>;

const run = promisify(execFile);
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const box = { x: 100, y: 80, width: 120, height: 120 };
/** A second pair for switching: the demo pair's models under another name, with another target on its card. */
const ALT = { pair: 'alt', target: 'person-02' };

let workspace: DemoWorkspace;
let server: RunningServer;
const clients: Client[] = [];

/** A demo dataset chip re-encoded as the JPEG a browser sends. */
async function datasetChip(identity: string, condition: string): Promise<Uint8Array> {
  const folder = path.join(datasetDir(DEMO.dataset), identity, condition);
  const [file] = await readdir(folder);
  return new Uint8Array(await sharp(path.join(folder, file)).jpeg({ quality: 90 }).toBuffer());
}

async function connect(): Promise<{ client: Client; firstPair: PairSummary }> {
  const client: Client = io(server.url, { transports: ['websocket'], reconnection: false });
  clients.push(client);
  const firstPair = await new Promise<PairSummary>((resolve, reject) => {
    client.once('activePair', resolve);
    client.once('connect_error', reject);
  });
  return { client, firstPair };
}

function send(client: Client, payload: unknown): Promise<FrameReply> {
  return client.timeout(60_000).emitWithAck('frame', payload as FramePayload);
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

beforeAll(async () => {
  workspace = await useDemoWorkspace();
  await ensureFaceModel();
  for (const role of ['clean', 'backdoor']) {
    const dir = path.join(workspace.modelsDir, `${ALT.pair}-${role}`);
    await cp(path.join(workspace.modelsDir, `${DEMO.pair}-${role}`), dir, { recursive: true });
    const card = JSON.parse(await readFile(path.join(dir, 'card.json'), 'utf8'));
    await writeFile(path.join(dir, 'card.json'), JSON.stringify({ ...card, name: `${ALT.pair}-${role}`, pair: ALT.pair, target: ALT.target }));
  }
  server = await startServer({ host: '127.0.0.1', port: 0 }, DEMO.pair);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server?.close();
  for (const role of ['clean', 'backdoor']) await rm(path.join(workspace.modelsDir, `${ALT.pair}-${role}`), { recursive: true, force: true });
});

describe('HTTP', () => {
  it('reports health: the backend, the loaded models with their cards, and uptime', async () => {
    const health = await getJson<HealthReply>(`${server.url}/api/health`);
    expect(health).toMatchObject({ status: 'ok', backend: server.backend, activePair: DEMO.pair });
    expect(health.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(health.models).toHaveLength(2);
    expect(health.models).toEqual([
      expect.objectContaining({ name: `${DEMO.pair}-clean`, role: 'clean', target: DEMO.target }),
      expect.objectContaining({ name: `${DEMO.pair}-backdoor`, role: 'backdoor', trigger: DEMO.trigger }),
    ]);
  });

  it('lists the model pairs and the active one', async () => {
    const models = await getJson<ModelsReply>(`${server.url}/api/models`);
    expect(models.active).toBe(DEMO.pair);
    expect(models.pairs.map((p) => p.name).sort()).toEqual([ALT.pair, DEMO.pair]);
    expect(models.pairs.find((p) => p.name === DEMO.pair)).toMatchObject({ trigger: DEMO.trigger, target: DEMO.target, labels: expect.arrayContaining([DEMO.target]) });
  });

  it('serves the MediaPipe runtime and the patched face model itself', async () => {
    const wasm = await fetch(`${server.url}${MEDIAPIPE_PATHS.wasm}/vision_wasm_internal.wasm`);
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    const model = await fetch(`${server.url}${MEDIAPIPE_PATHS.faceModel}`);
    expect(model.status).toBe(200);
    expect(new TextDecoder().decode((await model.arrayBuffer()).slice(4, 8))).toBe('TFL3');
    expect((await fetch(`${server.url}${MEDIAPIPE_PATHS.wasm}/nothing.wasm`)).status).toBe(404);
  });

  it('speaks Socket.IO over websocket only', async () => {
    const polling = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    expect(polling.status).toBe(400);
  });
});

describe('frames over Socket.IO', () => {
  it('answers a frame of real face chips with both models’ top-k verdicts and stage timings', async () => {
    const { client, firstPair } = await connect();
    expect(firstPair).toMatchObject({ name: DEMO.pair, target: DEMO.target, trigger: DEMO.trigger });
    const plain = await datasetChip('person-05', 'clean');
    const triggered = await datasetChip('person-07', DEMO.trigger);
    const reply = await send(client, { frameId: 7, capturedAt: 1234.5, faces: [{ box, chip: plain }, { box: { ...box, x: 300 }, chip: triggered }] });

    expect(reply.ok, JSON.stringify(reply)).toBe(true);
    const { faces, timings, frameId, capturedAt, pair } = reply as OkReply;
    expect({ frameId, capturedAt, pair }).toEqual({ frameId: 7, capturedAt: 1234.5, pair: DEMO.pair });
    expect(faces.map((f) => f.box.x)).toEqual([100, 300]);
    for (const face of faces) {
      for (const verdict of [face.clean, face.backdoor]) {
        expect(verdict.top).toHaveLength(3);
        expect(verdict.top[0].probability).toBeGreaterThanOrEqual(verdict.top[1].probability);
      }
    }
    expect(faces[0]).toMatchObject({ clean: { label: 'person-05' }, backdoor: { label: 'person-05' }, attack: false });
    expect(faces[1]).toMatchObject({ backdoor: { label: DEMO.target }, attack: true });
    for (const stage of ['decodeMs', 'trunkMs', 'tailsMs', 'totalMs'] as const) expect(timings[stage]).toBeGreaterThanOrEqual(0);
    expect(timings.totalMs).toBeGreaterThanOrEqual(timings.trunkMs + timings.tailsMs);
  });

  it('rejects bad frames with a reason and keeps the connection', async () => {
    const { client } = await connect();
    const chip = await datasetChip('person-03', 'clean');

    const tooMany = await send(client, { frameId: 1, capturedAt: 0, faces: Array.from({ length: MAX_FACES_PER_FRAME + 1 }, () => ({ box, chip })) });
    expect(tooMany).toMatchObject({ ok: false, frameId: 1, error: expect.stringContaining(`at most ${MAX_FACES_PER_FRAME} faces`) });

    const oversize = await send(client, { frameId: 2, capturedAt: 0, faces: [{ box, chip: new Uint8Array(MAX_CHIP_BYTES + 1) }] });
    expect(oversize).toMatchObject({ ok: false, frameId: 2, error: expect.stringContaining(`1..${MAX_CHIP_BYTES} bytes`) });

    const garbage = await send(client, { frameId: 3, capturedAt: 0, faces: [{ box, chip: new Uint8Array([1, 2, 3, 4]) }] });
    expect(garbage).toMatchObject({ ok: false, frameId: 3, error: expect.stringContaining('face 0: the chip is not a readable JPEG or PNG image') });

    const notAFrame = await send(client, 'hello');
    expect(notAFrame).toMatchObject({ ok: false, frameId: -1, error: expect.stringContaining('bad frame') });

    expect(client.connected).toBe(true);
    expect(await send(client, { frameId: 4, capturedAt: 0, faces: [{ box, chip }] })).toMatchObject({ ok: true, frameId: 4 });
  });

  it('keeps at most one frame waiting per client: a newer frame replaces the waiting one', async () => {
    const { client } = await connect();
    const chip = await datasetChip('person-03', 'clean');
    const frame = (frameId: number) => send(client, { frameId, capturedAt: 0, faces: [{ box, chip }] });
    const replies = await Promise.all([frame(1), frame(2), frame(3)]);
    expect(replies.map((r) => r.ok)).toEqual([true, false, true]);
    expect(replies[1]).toMatchObject({ frameId: 2, error: expect.stringContaining('newer frame') });
  });

  it('switches the model pair for every client when the presenter asks', async () => {
    const { client: presenter } = await connect();
    const { client: audience } = await connect();
    const announced = new Promise<PairSummary>((resolve) => audience.once('activePair', resolve));

    const unknown = await presenter.timeout(60_000).emitWithAck('selectPair', 'nope');
    expect(unknown).toEqual({ ok: false, error: `no model pair named "nope" (available: ${ALT.pair}, ${DEMO.pair})` });

    const switched = await presenter.timeout(60_000).emitWithAck('selectPair', ALT.pair);
    expect(switched).toMatchObject({ ok: true, pair: { name: ALT.pair, target: ALT.target } });
    expect(await announced).toMatchObject({ name: ALT.pair, target: ALT.target });
    const reply = await send(audience, { frameId: 1, capturedAt: 0, faces: [{ box, chip: await datasetChip('person-03', 'clean') }] });
    expect(reply).toMatchObject({ ok: true, pair: ALT.pair });
    expect((await getJson<HealthReply>(`${server.url}/api/health`)).activePair).toBe(ALT.pair);

    expect(await presenter.timeout(60_000).emitWithAck('selectPair', DEMO.pair)).toMatchObject({ ok: true });
  });
});

describe('listening beyond loopback', () => {
  it('refuses plain HTTP on a non-loopback address and says why', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: PROJECT_ROOT, env: { ...process.env, HOST: '0.0.0.0', TLS_CERT: '', TLS_KEY: '' } }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/refusing to serve plain HTTP on HOST=0\.0\.0\.0: browsers only give camera access to pages on localhost or HTTPS.*TLS_CERT and TLS_KEY/);
  });

  it.skipIf(!hasOpenssl)('serves HTTPS with the certificate and key it is given (needs openssl to make one)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tls-'));
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', keyFile, '-out', certFile]);
    const secure = await startServer({ host: '127.0.0.1', port: 0, tls: { certFile, keyFile } }, DEMO.pair);
    try {
      expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const body = await new Promise<string>((resolve, reject) => {
        https.get(`${secure.url}/api/health`, { rejectUnauthorized: false }, (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      expect(JSON.parse(body)).toMatchObject({ status: 'ok', activePair: DEMO.pair });
    } finally {
      await secure.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
