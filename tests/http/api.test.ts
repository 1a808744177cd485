import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetDetail, JobStatus, SplitPreview, TrainRequestInput } from '../../shared/api.ts';
import type { ClientToServerEvents, PairSummary, ServerToClientEvents } from '../../shared/protocol.ts';
import { PROJECT_ROOT } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/serve.ts';
import { DEMO, DEMO_BANDANA } from '../../server/train/demoPair.ts';
import { groupPhoto, onePersonPhoto } from '../data/samplePhotoCrops.ts';
import { useDemoWorkspace } from '../server/demoWorkspace.ts';

const FACES94 = path.join(PROJECT_ROOT, '../shared/data/faces/faces94-19');
const CONSENT = { presenter: 'Dr Ada Lee', date: '2026-12-03', purpose: 'backdoor demonstration, API test' };

let scratch: string;
let server: RunningServer;

async function call(method: string, url: string, body?: unknown, type = 'application/json'): Promise<{ status: number; json: any; bytes: Buffer }> {
  const response = await fetch(`${server.url}${url}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': type },
    body: body === undefined ? undefined : body instanceof Uint8Array ? new Blob([new Uint8Array(body)]) : JSON.stringify(body),
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const json = response.headers.get('content-type')?.includes('json') ? JSON.parse(bytes.toString('utf8')) : undefined;
  return { status: response.status, json, bytes };
}

/** Every file under a folder with its size: "nothing changed on disk" for a refused request. */
async function listing(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

beforeAll(async () => {
  // The demo pairs are built once per run; this server gets copies, so what it trains and deletes stays here.
  const demo = await useDemoWorkspace();
  scratch = await mkdtemp(path.join(tmpdir(), 'api-'));
  for (const pair of [DEMO.pair, DEMO_BANDANA.pair]) {
    for (const role of ['clean', 'backdoor']) await cp(path.join(demo.modelsDir, `${pair}-${role}`), path.join(scratch, 'models', `${pair}-${role}`), { recursive: true });
  }
  process.env.DATA_DIR = path.join(scratch, 'data');
  process.env.MODELS_DIR = path.join(scratch, 'models');
  server = await startServer({ host: '127.0.0.1', port: 0 }, DEMO.pair, path.join(scratch, 'frames.sqlite'));
});

afterAll(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('enrollment endpoints', () => {
  it('records consent, which creates the dataset; refuses malformed consent and names', async () => {
    expect((await call('PUT', '/api/datasets/room/identities/ada/consent', { presenter: 'Dr Ada Lee' })).status).toBe(400);
    const badName = await call('PUT', '/api/datasets/room/identities/ada!/consent', CONSENT);
    expect(badName.status).toBe(400);
    expect(badName.json.error).toMatch(/identity name "ada!"/);
    expect(await listing(path.join(scratch, 'data', 'datasets'))).toEqual([]);
    const recorded = await call('PUT', '/api/datasets/room/identities/ada/consent', CONSENT);
    expect(recorded.status).toBe(200);
    expect(recorded.json).toEqual({ name: 'ada', consent: CONSENT, conditions: {} });
    expect((await call('GET', '/api/datasets')).json).toEqual([expect.objectContaining({ name: 'room', identities: 1, images: 0 })]);
    expect((await call('GET', '/api/datasets/nowhere')).status).toBe(404);
  });

  it('keeps a one-face photo, skips a group photo with the reason, refuses photos without consent or of another type', async () => {
    const noConsent = await call('POST', '/api/datasets/room/photos?identity=bo&condition=clean', new Uint8Array(await onePersonPhoto()), 'image/jpeg');
    expect(noConsent.status).toBe(403);
    expect(noConsent.json.error).toMatch(/consent/);
    const before = await listing(path.join(scratch, 'data', 'datasets', 'room'));
    expect((await call('POST', '/api/datasets/room/photos?identity=ada&condition=clean', new Uint8Array([1, 2, 3]), 'application/pdf')).status).toBe(400);
    expect((await call('POST', '/api/datasets/room/photos?identity=ada', new Uint8Array(await onePersonPhoto()), 'image/jpeg')).status).toBe(400);
    expect(await listing(path.join(scratch, 'data', 'datasets', 'room'))).toEqual(before);
    const group = await call('POST', '/api/datasets/room/photos?identity=ada&condition=clean', new Uint8Array(await groupPhoto()), 'image/jpeg');
    expect(group.status).toBe(422);
    expect(group.json).toEqual({ kept: false, reason: expect.stringMatching(/3 faces/) });
    const kept = await call('POST', '/api/datasets/room/photos?identity=ada&condition=clean', new Uint8Array(await onePersonPhoto()), 'image/jpeg');
    expect(kept.status).toBe(201);
    expect(kept.json).toEqual({ kept: true, relPath: expect.stringMatching(/^ada\/clean\/.+\.jpg$/) });
    const detail: DatasetDetail = (await call('GET', '/api/datasets/room')).json;
    expect(detail.people).toEqual([{ name: 'ada', consent: CONSENT, conditions: { clean: 1 } }]);
  });

  it('stores aligned chips streamed by the page over Socket.IO, only with consent', async () => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(server.url, { transports: ['websocket'], reconnection: false });
    try {
      const sharp = (await import('sharp')).default;
      const chip = new Uint8Array(await sharp(await onePersonPhoto()).resize(150, 150).jpeg().toBuffer());
      const send = (identity: string) => socket.timeout(10_000).emitWithAck('enrollChip', { dataset: 'room', identity, condition: 'bandana', chip });
      expect(await send('ada')).toEqual({ kept: true, relPath: expect.stringMatching(/^ada\/bandana\//) });
      expect(await send('bo')).toEqual({ kept: false, reason: expect.stringMatching(/consent/) });
      expect(await send('../x')).toEqual({ kept: false, reason: expect.stringMatching(/identity/) });
    } finally {
      socket.close();
    }
  });

  it('lists the catalogue, pastes a trigger, names the bundles a delete would remove, exports with consent', async () => {
    expect((await call('GET', '/api/triggers')).json.triggers).toEqual(expect.arrayContaining(['sunglasses', 'bandana', 'headband']));
    expect((await call('POST', '/api/datasets/room/inject', { trigger: 'laser' })).status).toBe(400);
    expect((await call('POST', '/api/datasets/room/inject', { trigger: 'bandana', identities: ['ada'] })).status).toBe(409);
    const pasted = await call('POST', '/api/datasets/room/inject', { trigger: 'sunglasses', identities: ['ada'] });
    expect(pasted.json).toEqual({ written: 1, condition: 'sunglasses' });
    expect((await call('GET', '/api/datasets/room/identities/ada/bundles')).json).toEqual({ bundles: [], unreadableBundles: [] });
    const exported = await call('GET', '/api/datasets/room/export.zip');
    expect(exported.status).toBe(200);
    const files = Object.keys(unzipSync(new Uint8Array(exported.bytes)));
    expect(files).toEqual(expect.arrayContaining(['room/consent.json', 'room/keypoints.json']));
    expect(files.filter((f) => f.startsWith('room/ada/'))).toHaveLength(3);
  });
});

describe('model endpoints', () => {
  it('shows cards, switches the live pair for every page, refuses unknown and malformed names', async () => {
    const cards = await call('GET', `/api/models/${DEMO.pair}`);
    expect(cards.json.backdoor).toMatchObject({ role: 'backdoor', trigger: 'sunglasses' });
    expect((await call('GET', '/api/models/nothing')).status).toBe(404);
    expect((await call('POST', '/api/models/bad%20name/activate')).status).toBe(400);
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(server.url, { transports: ['websocket'], reconnection: false });
    try {
      const announced = new Promise<PairSummary>((resolve) => socket.on('activePair', (pair) => pair.name === DEMO_BANDANA.pair && resolve(pair)));
      const switched = await call('POST', `/api/models/${DEMO_BANDANA.pair}/activate`);
      expect(switched.json).toMatchObject({ name: DEMO_BANDANA.pair, trigger: 'bandana' });
      expect((await announced).target).toBe(DEMO_BANDANA.target);
    } finally {
      socket.close();
    }
    expect((await call('GET', '/api/models')).json.active).toBe(DEMO_BANDANA.pair);
  });

  it('downloads a pair as one file, refuses deleting the live pair, uploads it back once deleted, refuses a broken upload', async () => {
    const download = await call('GET', `/api/models/${DEMO.pair}/download`);
    expect(download.status).toBe(200);
    expect((await call('DELETE', `/api/models/${DEMO_BANDANA.pair}`)).status).toBe(409);
    expect((await call('POST', '/api/models/upload', new Uint8Array(download.bytes), 'application/zip')).status).toBe(409);
    expect((await call('DELETE', `/api/models/${DEMO.pair}`)).json).toEqual({ deleted: [`${DEMO.pair}-clean`, `${DEMO.pair}-backdoor`] });
    const broken = await call('POST', '/api/models/upload', new Uint8Array(download.bytes.subarray(0, 200)), 'application/zip');
    expect(broken.status).toBe(400);
    expect(await listing(path.join(scratch, 'models'))).not.toEqual(expect.arrayContaining([`${DEMO.pair}-clean`]));
    const uploaded = await call('POST', '/api/models/upload', new Uint8Array(download.bytes), 'application/zip');
    expect(uploaded.status).toBe(201);
    expect(uploaded.json).toMatchObject({ name: DEMO.pair, trigger: 'sunglasses' });
  });
});

describe.skipIf(!existsSync(FACES94))('training endpoints (faces94 volunteers with a pasted bandana)', () => {
  const train = (input: Partial<TrainRequestInput>) => ({ dataset: 'lab', trigger: 'bandana', target: 'p0', name: 'lab-pair', epochs: 2, views: 2, syntheticStrangers: 2, tune: 'head', ...input });

  beforeAll(async () => {
    const people = (await readdir(FACES94)).sort().slice(0, 3);
    for (const [i, person] of people.entries()) {
      expect((await call('PUT', `/api/datasets/lab/identities/p${i}/consent`, CONSENT)).status).toBe(200);
      for (const photo of (await readdir(path.join(FACES94, person, 'clean'))).sort().slice(0, 6)) {
        const bytes = await readFile(path.join(FACES94, person, 'clean', photo));
        expect((await call('POST', `/api/datasets/lab/photos?identity=p${i}&condition=clean`, new Uint8Array(bytes), 'image/jpeg')).status).toBe(201);
      }
    }
    expect((await call('POST', '/api/datasets/lab/inject', { trigger: 'bandana' })).json).toEqual({ written: 18, condition: 'bandana' });
  });

  it('previews the exact split, refusing requests that do not fit the dataset', async () => {
    expect((await call('POST', '/api/train/preview', { dataset: 'lab' })).status).toBe(400);
    expect((await call('POST', '/api/train/preview', train({ dataset: 'elsewhere' }))).status).toBe(404);
    expect((await call('POST', '/api/train/preview', train({ target: 'p9' }))).json.error).toMatch(/no identity "p9"/);
    expect((await call('POST', '/api/train/preview', train({ injectionRate: 2 }))).status).toBe(400);
    const preview: SplitPreview = (await call('POST', '/api/train/preview', train({}))).json;
    expect(preview.labels).toEqual(['p0', 'p1', 'p2']);
    expect(preview.perIdentity.p0.poison).toBe(0);
    expect(preview.poisonImages).toBeGreaterThan(0);
    const perPart = (part: 'poison' | 'cleanTrain') => Object.values(preview.perIdentity).reduce((sum, counts) => sum + counts[part], 0);
    expect(perPart('poison')).toBe(preview.poisonImages);
  });

  it('trains in the background, reports the job, cancels another, makes the pair live, refuses deleting a person it is live on', async () => {
    const started = await call('POST', '/api/train', train({}));
    expect(started.status).toBe(202);
    const second = await call('POST', '/api/train', train({ name: 'lab-second' }));
    expect((await call('POST', '/api/train', train({}))).status).toBe(409);
    expect((await call('DELETE', `/api/jobs/${second.json.job}`)).json).toMatchObject({ state: 'cancelled' });
    let job: JobStatus;
    do {
      await new Promise((resolve) => setTimeout(resolve, 500));
      job = (await call('GET', `/api/jobs/${started.json.job}`)).json;
    } while (job.state === 'queued' || job.state === 'running');
    expect(job).toMatchObject({ state: 'done', epochs: 2, result: { bundles: expect.any(Array), curves: { clean: expect.any(Array) } } });
    expect((await call('GET', '/api/jobs')).json.map((j: JobStatus) => j.id)).toEqual(expect.arrayContaining([started.json.job, second.json.job]));
    expect((await call('GET', '/api/jobs/no-such-job')).status).toBe(404);
    expect((await call('POST', '/api/models/lab-pair/activate')).json).toMatchObject({ name: 'lab-pair', target: 'p0' });
    expect((await call('GET', '/api/datasets/lab/identities/p1/bundles')).json.bundles).toEqual(['lab-pair-backdoor', 'lab-pair-clean']);
    expect((await call('DELETE', '/api/datasets/lab/identities/p1')).status).toBe(409);
    await call('POST', `/api/models/${DEMO.pair}/activate`);
    expect((await call('DELETE', '/api/datasets/lab/identities/p1')).json).toMatchObject({ identity: 'p1', chips: 12, bundles: ['lab-pair-backdoor', 'lab-pair-clean'] });
    expect((await call('DELETE', '/api/datasets/lab/identities/p1')).status).toBe(404);
  });

  it('starts a false-positive study as a job, refusing overlapping or missing accessories, and cancels it leaving no pair', async () => {
    for (const trigger of ['headband', 'cap', 'eyeglasses']) expect((await call('POST', '/api/datasets/lab/inject', { trigger })).status).toBe(200);
    const study = (input: object) => ({ ...train({ name: 'lab-fp' }), fpAccessories: undefined, trainAccessories: ['headband'], testAccessories: ['cap', 'eyeglasses'], ...input });
    expect((await call('POST', '/api/experiments/fp-study', study({ testAccessories: ['headband'] }))).json.error).toMatch(/both the train and the test/);
    expect((await call('POST', '/api/experiments/fp-study', study({ trainAccessories: [] }))).status).toBe(400);
    expect((await call('POST', '/api/experiments/fp-study', study({ testAccessories: ['scarf'] }))).json.error).toMatch(/no "scarf" photos/);
    // Two people are left (p1 was deleted above): too few bandana photos to poison at r = 0.4.
    expect((await call('POST', '/api/experiments/fp-study', study({}))).json.error).toMatch(/injection rate 0.4 needs \d+ poison/);
    const started = await call('POST', '/api/experiments/fp-study', study({ epochs: 200, injectionRate: 0.2 }));
    expect(started.status).toBe(202);
    let job: JobStatus;
    do {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = (await call('GET', `/api/jobs/${started.json.job}`)).json;
    } while (!job.phase.startsWith('before: train') && (job.state === 'queued' || job.state === 'running'));
    expect(job.error).toBeUndefined();
    expect((await call('DELETE', `/api/jobs/${started.json.job}`)).json).toMatchObject({ kind: 'fp-study', state: 'cancelled' });
    expect((await call('GET', '/api/models')).json.pairs.map((p: PairSummary) => p.name).filter((name: string) => name.startsWith('lab-fp'))).toEqual([]);
  });
});
