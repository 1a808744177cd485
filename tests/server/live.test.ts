import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
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
import { DEMO, DEMO_BANDANA } from '../../server/train/demoPair.ts';
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
  type SessionStatus,
  type StripReply,
} from '../../shared/protocol.ts';
import type { LogReport, SessionReport } from '../../shared/report.ts';
import { openLog } from '../../server/log/db.ts';
import { useDemoWorkspace, type DemoWorkspace } from './demoWorkspace.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type OkReply = Extract<FrameReply, { ok: true }>;

const run = promisify(execFile);
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const box = { x: 100, y: 80, width: 120, height: 120 };
/** A second pair for switching: the demo pair's models under another name, with another target on its card. */

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
  server = await startServer({ host: '127.0.0.1', port: 0 }, DEMO.pair);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server?.close();
});

describe('HTTP', () => {
  it('reports health: the backend, the loaded models with their cards, and uptime', async () => {
    const health = await getJson<HealthReply>(`${server.url}/api/health`);
    expect(health).toMatchObject({ status: 'ok', backend: server.backend.name, device: server.backend.device, gpu: server.backend.gpu, activePair: DEMO.pair });
    expect(health.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(health.models).toHaveLength(2);
    expect(health.models).toEqual([
      expect.objectContaining({ name: `${DEMO.pair}-clean`, role: 'clean', target: DEMO.target }),
      expect.objectContaining({ name: `${DEMO.pair}-backdoor`, role: 'backdoor', trigger: DEMO.trigger }),
    ]);
    expect(health.inference.workers).toBeGreaterThanOrEqual(1);
    // Each worker's live tensors: the teacher and the loaded pair at least.
    expect(health.inference.tensors).toHaveLength(health.inference.workers);
    for (const count of health.inference.tensors) expect(count).toBeGreaterThan(0);
    expect(health.strip.coverage.total).toBeGreaterThanOrEqual(0);
  });

  it('lists the model pairs and the active one', async () => {
    const models = await getJson<ModelsReply>(`${server.url}/api/models`);
    expect(models.active).toBe(DEMO.pair);
    expect(models.pairs.map((p) => p.name).sort()).toEqual([DEMO.pair, DEMO_BANDANA.pair]);
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
    expect(unknown).toMatchObject({ ok: false, error: expect.stringMatching(/^no model pair named "nope" \(available: [^)]+\)$/) });
    if (!unknown.ok) expect(/available: ([^)]+)/.exec(unknown.error)![1].split(', ').sort()).toEqual([DEMO.pair, DEMO_BANDANA.pair]);

    const switched = await presenter.timeout(60_000).emitWithAck('selectPair', DEMO_BANDANA.pair);
    expect(switched).toMatchObject({ ok: true, pair: { name: DEMO_BANDANA.pair, target: DEMO_BANDANA.target } });
    expect(await announced).toMatchObject({ name: DEMO_BANDANA.pair, target: DEMO_BANDANA.target });
    const reply = await send(audience, { frameId: 1, capturedAt: 0, faces: [{ box, chip: await datasetChip('person-03', 'clean') }] });
    expect(reply).toMatchObject({ ok: true, pair: DEMO_BANDANA.pair });
    expect((await getJson<HealthReply>(`${server.url}/api/health`)).activePair).toBe(DEMO_BANDANA.pair);

    expect(await presenter.timeout(60_000).emitWithAck('selectPair', DEMO.pair)).toMatchObject({ ok: true });
  });
});

/** Resolves with the first event of `name` that `accept` takes. */
function nextEvent<E extends 'session' | 'strip'>(client: Client, name: E, accept: (value: Parameters<ServerToClientEvents[E]>[0]) => boolean): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve) => {
    const listener = (value: Parameters<ServerToClientEvents[E]>[0]) => {
      if (!accept(value)) return;
      client.off(name, listener as never);
      resolve(value);
    };
    client.on(name, listener as never);
  });
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface FaceRow { frame_id: number; face_index: number; identity: string | null; worn: string | null; backdoor_label: string; attack: number; strip_entropy: number | null; strip_status: string; strip_ms: number | null; total_ms: number; pair: string; clean_model: string; backdoor_model: string; target: string }

describe('STRIP and the frame log', () => {
  const logFile = () => path.join(workspace.dataDir, 'log', 'frames.sqlite');
  let sessionId: number;
  const stripReplies: StripReply[] = [];
  const FRAMES = 4;

  beforeAll(async () => {
    const client: Client = io(server.url, { transports: ['websocket'], reconnection: false });
    clients.push(client);
    client.on('strip', (reply) => stripReplies.push(reply));
    sessionId = (await nextEvent(client, 'session', () => true)).id;

    expect(await client.timeout(10_000).emitWithAck('setGroundTruth', { identity: 'nobody', worn: 'none' })).toEqual({
      ok: false, error: expect.stringContaining(`"nobody" is not an identity of pair "${DEMO.pair}"`),
    });
    expect(await client.timeout(10_000).emitWithAck('selectFace', { x: 0, y: 0, width: -1, height: 1 } as never)).toMatchObject({ ok: false, error: expect.stringContaining('bad face selection') });
    expect(await client.timeout(10_000).emitWithAck('setGroundTruth', { identity: 'person-07', worn: DEMO.trigger })).toEqual({ ok: true });

    const triggered = await datasetChip('person-07', DEMO.trigger);
    const bystander = await datasetChip('person-05', 'clean');
    const counted = nextEvent(client, 'session', (status) => status.framesLogged === FRAMES);
    for (let frameId = 1; frameId <= FRAMES; frameId++) {
      // The larger face is the labelled one by default.
      const reply = await send(client, { frameId, capturedAt: 0, faces: [{ box: { ...box, x: 400, width: 60, height: 60 }, chip: bystander }, { box, chip: triggered }] });
      expect(reply.ok).toBe(true);
    }
    await until(() => (stripReplies.length === FRAMES ? true : undefined), 'a STRIP reply for every frame', 60_000);
    const status: SessionStatus = await counted;
    expect(status).toMatchObject({ id: sessionId, storeImages: false, attackSuccess: { hits: expect.any(Number), total: FRAMES } });
    // STRIP's coverage in the status bar counts this session's faces; the server's own counts all of them.
    const ranFaces = 2 * stripReplies.filter((r) => r.status === 'ran').length;
    expect(status.strip.coverage).toMatchObject({ hits: ranFaces, total: 2 * FRAMES });
    expect(status.strip.facesPerSecond).toBeGreaterThan(0);
    const health = await getJson<HealthReply>(`${server.url}/api/health`);
    expect(health.inference.chips).toBeGreaterThanOrEqual(2 * FRAMES);
    expect(health.inference.meanBatch).toBeGreaterThanOrEqual(1);
    expect(health.inference.stripBlends).toBeGreaterThanOrEqual(ranFaces * 16);
    expect(health.strip.coverage.hits).toBeGreaterThanOrEqual(ranFaces);
    client.close();
  });

  it('sends a STRIP entropy in [0, 1] and a flag per face, or says the frame was skipped', () => {
    expect(stripReplies.map((r) => r.frameId).sort()).toEqual([1, 2, 3, 4]);
    const ran = stripReplies.filter((r) => r.status === 'ran');
    expect(ran.length).toBeGreaterThan(0);
    for (const reply of ran) {
      expect(reply.faces).toHaveLength(2);
      for (const face of reply.faces) {
        expect(face.entropy).toBeGreaterThanOrEqual(0);
        expect(face.entropy).toBeLessThanOrEqual(1);
        expect(typeof face.flagged).toBe('boolean');
      }
    }
  });

  it('logs one row per face per frame with the labels, STRIP outcome, timings and model ids, and finishes the session on disconnect', async () => {
    const session = await until(() => {
      const db = openLog(logFile(), { readonly: true });
      try {
        const row = db.prepare('SELECT ended_at FROM sessions WHERE id = ?').get(sessionId) as { ended_at: number | null };
        return row.ended_at === null ? undefined : row;
      } finally {
        db.close();
      }
    }, 'the session to finish');
    expect(session.ended_at).toBeGreaterThan(0);

    const db = openLog(logFile(), { readonly: true });
    const rows = db.prepare('SELECT * FROM faces WHERE session_id = ? ORDER BY frame_id, face_index').all(sessionId) as FaceRow[];
    const images = db.prepare('SELECT COUNT(*) FROM face_images').pluck().get();
    db.close();
    expect(images).toBe(0);
    expect(rows).toHaveLength(2 * FRAMES);
    const ranFrames = new Set(stripReplies.filter((r) => r.status === 'ran').map((r) => r.frameId));
    for (const row of rows) {
      const labelled = row.face_index === 1;
      expect(row).toMatchObject({
        identity: labelled ? 'person-07' : null,
        worn: labelled ? DEMO.trigger : null,
        pair: DEMO.pair,
        target: DEMO.target,
        clean_model: expect.stringMatching(new RegExp(`^${DEMO.pair}-clean@\\d{4}-`)),
        backdoor_model: expect.stringMatching(new RegExp(`^${DEMO.pair}-backdoor@\\d{4}-`)),
      });
      expect(row.total_ms).toBeGreaterThan(0);
      if (ranFrames.has(row.frame_id)) {
        expect(row.strip_status).toMatch(/^(flagged|passed)$/);
        expect(row.strip_entropy).toBeGreaterThanOrEqual(0);
        expect(row.strip_ms).toBeGreaterThan(0);
      } else {
        expect(row).toMatchObject({ strip_status: 'skipped', strip_entropy: null, strip_ms: null });
      }
    }
    expect(rows.filter((r) => r.face_index === 1).every((r) => r.backdoor_label === DEMO.target && r.attack === 1)).toBe(true);
  });

  it('lists sessions with summary figures and reports one session', async () => {
    const list = await getJson<LogReport>(`${server.url}/api/sessions`);
    expect(list.sessions.find((s) => s.id === sessionId)).toMatchObject({ frames: FRAMES, faces: 2 * FRAMES, labelledFaces: FRAMES, finished: true });
    expect(list.pairs.find((p) => p.pair === DEMO.pair)?.sessions).toContain(sessionId);

    const report = await getJson<SessionReport>(`${server.url}/api/sessions/${sessionId}`);
    expect(report.session).toMatchObject({ id: sessionId, pair: DEMO.pair, finished: true });
    expect(report.pairs[0].attack.successRate.overall).toMatchObject({ hits: FRAMES, total: FRAMES });
  });

  it('exports a session as CSV and JSON Lines, without images', async () => {
    const csv = await fetch(`${server.url}/api/sessions/${sessionId}/frames.csv`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...records] = (await csv.text()).split('\r\n').filter((line) => line !== '');
    const columns = header.split(',');
    expect(columns).toEqual(expect.arrayContaining(['frameId', 'identity', 'worn', 'stripEntropy', 'stripStatus']));
    expect(columns.some((c) => /image/i.test(c))).toBe(false);
    expect(records).toHaveLength(2 * FRAMES);
    for (const record of records) expect(record.split(',')).toHaveLength(columns.length);

    const jsonl = await fetch(`${server.url}/api/sessions/${sessionId}/frames.jsonl`);
    expect(jsonl.status).toBe(200);
    const lines = (await jsonl.text()).trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(2 * FRAMES);
    expect(lines.filter((face) => face.identity === 'person-07')).toHaveLength(FRAMES);
  });

  it('starts a new session on request, storing face images only when asked', async () => {
    const client: Client = io(server.url, { transports: ['websocket'], reconnection: false });
    clients.push(client);
    const first = await nextEvent(client, 'session', () => true);
    const second = nextEvent(client, 'session', (status) => status.id !== first.id);
    expect(await client.timeout(10_000).emitWithAck('startSession', { storeImages: true, notes: 'image test' })).toEqual({ ok: true });
    expect(await second).toMatchObject({ storeImages: true, framesLogged: 0 });
    const { id } = await second;
    const logged = nextEvent(client, 'session', (status) => status.id === id && status.framesLogged === 1);
    expect(await send(client, { frameId: 1, capturedAt: 0, faces: [{ box, chip: await datasetChip('person-03', 'clean') }] })).toMatchObject({ ok: true });
    await logged;

    const db = openLog(logFile(), { readonly: true });
    const sessions = db.prepare('SELECT id, ended_at, store_images, notes FROM sessions WHERE id IN (?, ?) ORDER BY id').all(first.id, id);
    const images = db.prepare('SELECT COUNT(*) FROM face_images JOIN faces ON faces.id = face_images.face_id WHERE faces.session_id = ?').pluck().get(id);
    db.close();
    expect(sessions).toEqual([
      { id: first.id, ended_at: expect.any(Number), store_images: 0, notes: '' },
      { id, ended_at: null, store_images: 1, notes: 'image test' },
    ]);
    expect(images).toBe(1);
  });

  it('answers 404 with a reason for an unknown session', async () => {
    for (const url of ['/api/sessions/999999', '/api/sessions/999999/frames.csv', '/api/sessions/999999/frames.jsonl']) {
      const response = await fetch(`${server.url}${url}`);
      expect(response.status, url).toBe(404);
      expect(await response.json()).toEqual({ error: 'no session with id 999999 in the frame log' });
    }
    const notAnId = await fetch(`${server.url}/api/sessions/abc`);
    expect(notAnId.status).toBe(404);
    expect(await notAnId.json()).toEqual({ error: expect.stringContaining('session ids are positive whole numbers') });
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
