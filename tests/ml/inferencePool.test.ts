import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import seedrandom from 'seedrandom';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import { saveStripReference } from '../../server/defense/reference.ts';
import { calibrateStrip, stripEntropies } from '../../server/defense/strip.ts';
import { LiveStrip, type StripOutcome } from '../../server/defense/liveStrip.ts';
import { ActivePair } from '../../server/ml/activePair.ts';
import { initBackend, type BackendName } from '../../server/ml/backend.ts';
import { hasSoftwareGl, SOFTWARE_GL_MISSING } from './softwareGl.ts';
import { saveBundle } from '../../server/ml/bundle.ts';
import { packChips } from '../../server/ml/chips.ts';
import { InferencePool } from '../../server/ml/inferencePool.ts';
import { loadPair, pairProbabilities, pairVerdicts, readPairCards } from '../../server/ml/pair.ts';
import { createTail, disposeTail } from '../../server/ml/tail.ts';
import { loadTeacher, type TeacherWeights } from '../../server/ml/teacher.ts';
import { samplePhotos } from '../../server/train/demoPair.ts';
import { testCard } from './testCard.ts';

const CLASSES = 4;
let scratch: string;
let teacher: TeacherWeights;
/** The face-api sample photos squeezed to chip size: stand-ins for face chips. */
let chips: Buffer[];

/** Saves a pair of hand-made tails under models/, the backdoored one with a STRIP reference and calibration. */
async function savePair(name: string, seed: number): Promise<void> {
  const reference = chips.slice(3);
  for (const role of ['clean', 'backdoor'] as const) {
    const tail = createTail(teacher, 'map', CLASSES, seed + (role === 'clean' ? 0 : 1));
    const card = { ...testCard(`${name}-${role}`, { classes: CLASSES, tune: 'map', pair: name }), role };
    if (role === 'backdoor') {
      const strip = await calibrateStrip(teacher, tail, reference, { blends: 4 });
      await saveBundle({ ...card, strip }, tail, (dir) => saveStripReference(dir, reference));
    } else {
      await saveBundle(card, tail);
    }
    disposeTail(tail);
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'pool-'));
  process.env.MODELS_DIR = path.join(scratch, 'models');
  await initBackend();
  teacher = await loadTeacher();
  chips = await Promise.all(samplePhotos().map((file) => sharp(file).removeAlpha().resize(CHIP_SIZE, CHIP_SIZE, { fit: 'fill' }).raw().toBuffer()));
  await savePair('alpha', 1);
  await savePair('beta', 3);
}, 120_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/**
 * The workers' backends checked against the calling thread's (wasm): wasm itself, and WebGPU on
 * Mesa's software OpenGL ES where it is installed (as .ci/run does), standing in for a GPU.
 */
const POOL_BACKENDS: BackendName[] = ['wasm', ...(hasSoftwareGl ? (['webgpu'] as const) : [])];
if (!hasSoftwareGl) console.warn(`inference pool on webgpu skipped: ${SOFTWARE_GL_MISSING}`);

describe.each(POOL_BACKENDS)('inference pool on %s', (backend) => {
  it('answers every client’s frame with its own rows, batching frames that wait together, as the models do on the calling thread', async () => {
    const pool = await InferencePool.start({ workers: 1, batchMax: 16, batchWaitMs: 20, stripChunk: 16, backend });
    try {
      const models = await ActivePair.load(pool, 'alpha');
      const frames = [chips.slice(0, 1), chips.slice(1, 3), chips.slice(3, 4)];
      const answers = await Promise.all(frames.map((frame) => models.classify(frame)));
      // Three frames that arrive within the batch wait share one trunk call.
      expect(answers.map((a) => a.batch)).toEqual([4, 4, 4]);
      expect(pool.stats()).toMatchObject({ batches: 1, chips: 4 });

      const pair = await loadPair('alpha');
      const expected = await pairProbabilities(teacher, pair, packChips(chips.slice(0, 4)));
      const rows = answers.flatMap((a) => a.verdicts);
      expect(rows).toHaveLength(4);
      const expectedVerdicts = pairVerdicts(await readPairCards('alpha'), expected);
      rows.forEach((verdict, i) => {
        for (const role of ['clean', 'backdoor'] as const) {
          // The same label, its probability within 5e-5 (measured on webgpu: within 1e-6).
          expect(verdict[role].label, role).toBe(expectedVerdicts[i][role].label);
          expect(verdict[role].confidence, role).toBeCloseTo(expectedVerdicts[i][role].confidence, 4);
        }
      });
    } finally {
      await pool.close();
    }
  });

  it('runs STRIP on spare capacity with the same entropies as on the calling thread, and keeps its tensor count after warm-up', async () => {
    const pool = await InferencePool.start({ workers: 1, batchMax: 16, batchWaitMs: 0, stripChunk: 16, backend });
    try {
      const models = await ActivePair.load(pool, 'alpha');
      const strip = new LiveStrip(pool);
      const warm = pool.stats().tensors;
      expect(warm[0]).toBeGreaterThan(0);
      const client = strip.client();
      const outcomes: StripOutcome[] = [];
      for (const frame of [chips.slice(0, 2), chips.slice(2, 3)]) {
        const { cards } = await models.classify(frame);
        outcomes.push(await client.submit({ pair: 'alpha', chips: frame, backdoor: cards.backdoor }));
      }
      const pair = await loadPair('alpha');
      const reference = chips.slice(3);
      // Each STRIP job draws its partners from its own seed, numbered from 0.
      const expected = [
        ...(await stripEntropies(teacher, pair.backdoor.tail, chips.slice(0, 2), reference, { blends: 4, rng: seedrandom('strip-live:0') })),
        ...(await stripEntropies(teacher, pair.backdoor.tail, chips.slice(2, 3), reference, { blends: 4, rng: seedrandom('strip-live:1') })),
      ];
      const measured = outcomes.flatMap((o) => (o.status === 'ran' ? o.entropies : []));
      expect(measured).toHaveLength(3);
      measured.forEach((e, i) => expect(e).toBeCloseTo(expected[i], 4));
      expect(pool.stats().stripBlends).toBe(3 * 4);
      expect(strip.stats().coverage).toMatchObject({ hits: 3, total: 3 });

      for (let i = 0; i < 10; i++) await models.classify(chips.slice(i % 3, (i % 3) + 1));
      // Every reply reports its worker's count: the pool's stats (and /api/health) show it without asking.
      expect(pool.stats().tensors).toEqual(warm);
      await client.close();
    } finally {
      await pool.close();
    }
  });

});

describe('inference pool', () => {
  it('serves STRIP to clients in turn, each with its newest frame, skipping the frames in between, several frames to a call as the batch cap allows', async () => {
    // Two workers: STRIP takes one only while the other stays free for classification.
    const pool = await InferencePool.start({ workers: 2, batchMax: 16, batchWaitMs: 0, stripChunk: 16, backend: 'wasm' });
    try {
      const models = await ActivePair.load(pool, 'alpha');
      const strip = new LiveStrip(pool);
      const { backdoor } = models.cards;
      const [a, b] = [strip.client(), strip.client()];
      const order: string[] = [];
      const callMs = new Map<string, number>();
      const submit = (client: typeof a, name: string) => client.submit({ pair: 'alpha', chips: [chips[0]], backdoor }).then((o) => {
        if (o.status === 'ran') {
          order.push(name);
          callMs.set(name, o.ms);
        }
        return o.status;
      });
      // The first frame starts at once; while it runs, each client's newer frame replaces its older one.
      const first = submit(a, 'a1');
      await new Promise((resolve) => setImmediate(resolve));
      const statuses = await Promise.all([first, submit(a, 'a2'), submit(a, 'a3'), submit(b, 'b1'), submit(b, 'b2')]);
      expect(statuses).toEqual(['ran', 'skipped', 'ran', 'skipped', 'ran']);
      expect(order).toEqual(['a1', 'b2', 'a3']);
      // b2 and a3 (4 blends each, 8 chips within the cap of 16) went to the worker in one call.
      expect(callMs.get('b2')).toBe(callMs.get('a3'));
      expect(pool.stats().stripBlends).toBe(3 * 4);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await pool.close();
    }
  });

  it('on a pool of one worker, runs STRIP in calls of at most the chunk with frames in between, with the entropies of one call', async () => {
    const pool = await InferencePool.start({ workers: 1, batchMax: 16, batchWaitMs: 0, stripChunk: 2, backend: 'wasm' });
    try {
      const models = await ActivePair.load(pool, 'alpha');
      const strip = new LiveStrip(pool);
      const client = strip.client();
      const done: string[] = [];
      // Two faces x 4 blends: four calls of 2 blended chips; the first starts at once.
      const stripped = client.submit({ pair: 'alpha', chips: chips.slice(0, 2), backdoor: models.cards.backdoor }).then((outcome) => {
        done.push('strip');
        return outcome;
      });
      await new Promise((resolve) => setImmediate(resolve));
      const classified = models.classify(chips.slice(2, 3)).then(() => done.push('frame'));
      const [outcome] = await Promise.all([stripped, classified]);
      // The frame waited for one STRIP call, not for all four.
      expect(done).toEqual(['frame', 'strip']);
      expect(pool.stats().stripBlends).toBe(2 * 4);

      const pair = await loadPair('alpha');
      const expected = await stripEntropies(teacher, pair.backdoor.tail, chips.slice(0, 2), chips.slice(3), { blends: 4, rng: seedrandom('strip-live:0') });
      expect(outcome.status).toBe('ran');
      if (outcome.status === 'ran') outcome.entropies.forEach((e, i) => expect(e).toBeCloseTo(expected[i], 4));
      await client.close();
    } finally {
      await pool.close();
    }
  });

  it('switches pairs on every worker and keeps the calling thread free while the workers compute', async () => {
    const pool = await InferencePool.start({ workers: 2, batchMax: 16, batchWaitMs: 0, stripChunk: 16, backend: 'wasm' });
    try {
      const models = await ActivePair.load(pool, 'alpha');
      let last = performance.now();
      let longestGap = 0;
      const ticker = setInterval(() => {
        longestGap = Math.max(longestGap, performance.now() - last);
        last = performance.now();
      }, 5);
      const [before] = await Promise.all([models.classify(chips.slice(0, 4)), models.classify(chips.slice(0, 4))]);
      clearInterval(ticker);
      expect(longestGap).toBeLessThan(100);
      const withAlpha = pool.stats().tensors;
      expect((await models.switchTo('beta')).name).toBe('beta');
      const after = await models.classify(chips.slice(0, 4));
      expect(after.pair).toBe('beta');
      expect(after.verdicts[0].clean.confidence).not.toBeCloseTo(before.verdicts[0].clean.confidence, 6);
      // A pair switched away from leaves nothing behind on the workers.
      await models.switchTo('alpha');
      expect(pool.stats().tensors).toEqual(withAlpha);
      await models.switchTo('beta');
      await expect(models.switchTo('gamma')).rejects.toThrow(/no model pair named "gamma"/);
      expect(models.summary.name).toBe('beta');
    } finally {
      await pool.close();
    }
  });
});
