import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GreyImage } from '../../client/src/lib/captureFilter.ts';
import type { DetectedFace } from '../../client/src/lib/detector.ts';
import { DatasetsStore } from '../../client/src/lib/stores/datasets.svelte.ts';
import { EnrollmentStore, type ChipCutter } from '../../client/src/lib/stores/enrollment.svelte.ts';
import { JobsStore } from '../../client/src/lib/stores/jobs.svelte.ts';
import { ModelsStore } from '../../client/src/lib/stores/models.svelte.ts';
import type { LiveSocket } from '../../client/src/lib/stream.ts';
import { canonicalKeypoints, CHIP_SIZE } from '../../shared/alignment.ts';
import type { EnrollChip, JobStatus, PhotoReply } from '../../shared/api.ts';
import type { PairSummary } from '../../shared/protocol.ts';

afterEach(() => vi.unstubAllGlobals());

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });

/** A socket whose `enrollChip` acknowledgements the test decides, and whose events it raises. */
function fakeSocket(answer: (chip: EnrollChip) => Promise<PhotoReply> = async () => ({ kept: true, relPath: 'x.jpg' })) {
  const events = new EventEmitter();
  const emitWithAck = vi.fn((_event: string, chip: EnrollChip) => answer(chip));
  const socket = { on: (event: string, listener: (...args: unknown[]) => void) => events.on(event, listener), timeout: () => ({ emitWithAck }) };
  return { socket: socket as unknown as LiveSocket, events, emitWithAck };
}

/** A frame stands for the chip the fake cutter cuts from it. */
const frameOf = (grey: GreyImage) => ({ grey }) as unknown as CanvasImageSource;
const cutFromFrame: ChipCutter = (frame) => ({ grey: (frame as unknown as { grey: GreyImage }).grey, encode: async () => new Uint8Array([0xff, 0xd8, 0xff]) });

/** Stripes whose phase tells chips apart: sharp, and far from each other. */
function stripes(phase: number): GreyImage {
  const pixels = new Float32Array(CHIP_SIZE * CHIP_SIZE);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (Math.floor((i % CHIP_SIZE) / 2) + phase) % 2 === 0 ? 30 : 220;
  return { width: CHIP_SIZE, height: CHIP_SIZE, pixels };
}
const flat: GreyImage = { width: CHIP_SIZE, height: CHIP_SIZE, pixels: new Float32Array(CHIP_SIZE * CHIP_SIZE).fill(128) };
const face: DetectedFace = { box: { x: 0, y: 0, width: 100, height: 100 }, keypoints: canonicalKeypoints(), score: 0.9 };

describe('enrollment capture', () => {
  function capture(answer?: (chip: EnrollChip) => Promise<PhotoReply>) {
    const { socket, emitWithAck } = fakeSocket(answer);
    const cut = vi.fn(cutFromFrame);
    const enrollment = new EnrollmentStore(socket, cut);
    Object.assign(enrollment, { dataset: 'lab', identity: 'person-22', condition: 'sunglasses', count: 2, ratePerSecond: 2 });
    return { enrollment, emitWithAck, cut };
  }

  it('takes a chip of the one face at the chosen rate, skips what the filter or the server refuses, and stops at the count', async () => {
    const answers: PhotoReply[] = [{ kept: true, relPath: 'a.jpg' }, { kept: false, reason: 'consent not recorded' }, { kept: true, relPath: 'b.jpg' }];
    const { enrollment, emitWithAck, cut } = capture(async () => answers.shift()!);
    enrollment.frame([face], frameOf(stripes(0)), 0);
    expect(cut).not.toHaveBeenCalled();
    enrollment.start();
    expect(enrollment.run).toEqual({ dataset: 'lab', identity: 'person-22', condition: 'sunglasses', count: 2, ratePerSecond: 2 });

    enrollment.frame([face], frameOf(stripes(0)), 1000);
    await settle();
    expect(emitWithAck).toHaveBeenLastCalledWith('enrollChip', { dataset: 'lab', identity: 'person-22', condition: 'sunglasses', chip: new Uint8Array([0xff, 0xd8, 0xff]) });
    expect(enrollment.kept).toBe(1);

    enrollment.frame([face], frameOf(stripes(1)), 1200);
    expect(cut).toHaveBeenCalledTimes(1);

    enrollment.frame([face, face], frameOf(stripes(1)), 1600);
    expect(enrollment.state).toBe('paused');
    expect(enrollment.facesInView).toBe(2);
    expect(cut).toHaveBeenCalledTimes(1);

    enrollment.frame([face], frameOf(stripes(0)), 1700);
    expect(enrollment.state).toBe('capturing');
    enrollment.frame([face], frameOf(flat), 2200);
    enrollment.frame([face], frameOf(stripes(1)), 2700);
    await settle();
    expect(enrollment.kept).toBe(1);
    enrollment.frame([face], frameOf(stripes(0)), 3200);
    await settle();

    expect(enrollment.kept).toBe(2);
    expect(enrollment.state).toBe('done');
    expect(enrollment.skipped).toEqual({ 'same as the last chip: move a little': 1, 'blurred: hold still': 1, 'consent not recorded': 1 });
    expect(enrollment.thumbnails).toHaveLength(2);
    enrollment.frame([face], frameOf(stripes(1)), 9000);
    expect(cut).toHaveBeenCalledTimes(5);
  });

  it('waits for the answer before taking the next chip, and stops when the server does not answer', async () => {
    let fail: (error: Error) => void = () => {};
    const { enrollment, cut } = capture(() => new Promise((_resolve, reject) => (fail = reject)));
    enrollment.start();
    enrollment.frame([face], frameOf(stripes(0)), 0);
    await settle();
    enrollment.frame([face], frameOf(stripes(1)), 5000);
    expect(cut).toHaveBeenCalledTimes(1);
    fail(new Error('operation has timed out'));
    await settle();
    expect(enrollment.state).toBe('stopped');
    expect(enrollment.error).toBe('the server did not store the chip (operation has timed out): capture stopped');
  });

  it('starts a new run from nothing', async () => {
    const { enrollment } = capture();
    enrollment.start();
    enrollment.frame([face], frameOf(flat), 0);
    enrollment.stop();
    expect(enrollment.state).toBe('stopped');
    enrollment.condition = 'clean';
    enrollment.start();
    expect(enrollment.skipped).toEqual({});
    expect(enrollment.run?.condition).toBe('clean');
    expect(enrollment.state).toBe('capturing');
  });
});

const job = (id: string, state: JobStatus['state'], createdAt: string): JobStatus => ({
  id,
  kind: 'train',
  state,
  request: { dataset: 'lab', trigger: 'sunglasses', target: 'person-01', name: id, injectionRate: 0.4, tune: 'map', epochs: 40, learningRate: 0.001, seed: 1, syntheticStrangers: 24, views: 10, augment: 'robust', fpAccessories: [] },
  phase: state === 'running' ? 'train clean' : '',
  done: 0,
  total: 0,
  epoch: 0,
  epochs: 40,
  loss: {},
  createdAt,
});

describe('jobs store', () => {
  it('lists the server’s jobs newest first, follows their events and tells once when one is done', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => json([job('old', 'done', '2025-01-01T10:00:00Z'), job('new', 'running', '2025-01-02T10:00:00Z')])));
    const { socket, events } = fakeSocket();
    const onDone = vi.fn();
    const jobs = new JobsStore(socket, onDone);
    await jobs.load();
    expect(jobs.jobs.map((j) => j.id)).toEqual(['new', 'old']);
    expect(jobs.shown?.id).toBe('new');

    events.emit('job', { ...job('new', 'running', '2025-01-02T10:00:00Z'), epoch: 3 });
    expect(jobs.shown?.epoch).toBe(3);
    events.emit('job', job('new', 'done', '2025-01-02T10:00:00Z'));
    events.emit('job', job('new', 'done', '2025-01-02T10:00:00Z'));
    expect(onDone).toHaveBeenCalledTimes(1);
    expect(onDone.mock.calls[0][0].id).toBe('new');
    jobs.show('old');
    expect(jobs.shown?.id).toBe('old');
  });

  it('starts a training, shows its job, and reloads the list on reconnect', async () => {
    const fetch = vi.fn(async (url: string, init?: RequestInit) => {
      if (url === '/api/train') return json({ job: 'j3' });
      if (url === '/api/jobs/j3') return json(job('j3', 'queued', '2025-01-03T10:00:00Z'));
      if (url === '/api/jobs' && init?.method === 'GET') return json([job('j3', 'running', '2025-01-03T10:00:00Z')]);
      return json({ error: `unexpected ${url}` }, 500);
    });
    vi.stubGlobal('fetch', fetch);
    const { socket, events } = fakeSocket();
    const jobs = new JobsStore(socket);
    await jobs.start({ dataset: 'lab', trigger: 'sunglasses', target: 'person-01', name: 'j3' });
    expect(JSON.parse(fetch.mock.calls[0][1]!.body as string)).toEqual({ dataset: 'lab', trigger: 'sunglasses', target: 'person-01', name: 'j3' });
    expect(jobs.shown).toMatchObject({ id: 'j3', state: 'queued' });
    events.emit('connect');
    await vi.waitFor(() => expect(jobs.shown?.state).toBe('running'));
  });
});

describe('models store', () => {
  const demo: PairSummary = { name: 'demo', labels: ['a', 'b'], trigger: 'sunglasses', target: 'a', injectionRate: 0.4, tune: 'map' };
  const other: PairSummary = { ...demo, name: 'other' };

  it('loads the pairs and their cards, tells the pair picker, makes one live and follows pairs made live elsewhere', async () => {
    vi.stubGlobal('fetch', vi.fn(async (url: string) => {
      if (url === '/api/models') return json({ active: 'demo', pairs: [demo, other] });
      if (url === '/api/models/demo') return json({ clean: { name: 'demo-clean' }, backdoor: { name: 'demo-backdoor' } });
      if (url === '/api/models/other/activate') return json(other);
      return json({ error: 'card.json is unreadable' }, 500);
    }));
    const pairsChanged = vi.fn();
    const { socket, events } = fakeSocket();
    const models = new ModelsStore(socket, pairsChanged);
    await models.load();
    expect(models.pairs.map((p) => p.name)).toEqual(['demo', 'other']);
    expect(models.active).toBe('demo');
    expect(Object.keys(models.cards)).toEqual(['demo']);
    expect(models.error).toBeUndefined();
    expect(pairsChanged).toHaveBeenCalledWith([demo, other]);
    await models.activate('other');
    expect(models.active).toBe('other');
    events.emit('activePair', demo);
    expect(models.active).toBe('demo');
  });
});

describe('datasets store', () => {
  it('takes a dataset the server does not have yet as one without people, and records consent into it', async () => {
    const person = { name: 'person-22', consent: { presenter: 'P', date: '2025-05-01', purpose: 'demo' }, conditions: {} };
    let created = false;
    vi.stubGlobal('fetch', vi.fn(async (url: string, init?: RequestInit) => {
      if (url.endsWith('/consent') && init?.method === 'PUT') {
        created = true;
        return json(person);
      }
      if (url === '/api/datasets/new-lab') return created ? json({ name: 'new-lab', identities: 1, images: 0, conditions: {}, people: [person] }) : json({ error: 'no dataset "new-lab"' }, 404);
      if (url === '/api/datasets') return json([]);
      return json({ error: `unexpected ${url}` }, 500);
    }));
    const datasets = new DatasetsStore();
    await datasets.open('new-lab');
    expect(datasets.details['new-lab']).toBeUndefined();
    expect(datasets.error).toBeUndefined();
    expect(await datasets.recordConsent('new-lab', 'person-22', person.consent)).toBe(true);
    expect(datasets.person('new-lab', 'person-22')?.consent).toEqual(person.consent);
    expect(datasets.busy).toBe(false);
  });

  it('uploads every photo even when one is refused, with each answer', async () => {
    vi.stubGlobal('fetch', vi.fn(async (url: string) => {
      if (url.includes('/photos?')) return url.includes('condition=clean') ? json({ kept: true, relPath: 'p/clean/1.jpg' }) : json({ error: 'unreachable' }, 500);
      return json({ error: 'missing' }, 404);
    }));
    const datasets = new DatasetsStore();
    const photo = (name: string) => new File([new Uint8Array([1])], name, { type: 'image/jpeg' });
    await datasets.uploadPhotos('lab', 'p', 'clean', [photo('a.jpg'), photo('b.jpg')]);
    expect(datasets.uploads).toEqual([{ file: 'a.jpg', reply: { kept: true, relPath: 'p/clean/1.jpg' } }, { file: 'b.jpg', reply: { kept: true, relPath: 'p/clean/1.jpg' } }]);
    await datasets.uploadPhotos('lab', 'p', 'sunglasses', [photo('c.jpg')]);
    expect(datasets.uploads).toEqual([{ file: 'c.jpg', reply: { kept: false, reason: 'unreachable' } }]);
  });
});
