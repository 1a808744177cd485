import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSession, openLog, startSession, UnknownSessionError, type LogDatabase } from '../../server/log/db.ts';
import { FrameLogWriter } from '../../server/log/writer.ts';
import { face } from './helpers.ts';

let scratch: string;
let file: string;
let db: LogDatabase;
/** A second connection, as a report or export would use: it sees committed rows only. */
let reader: LogDatabase;

const session = (storeImages = false) => startSession(db, { pair: 'p1', cleanModel: 'c', backdoorModel: 'b', storeImages });
const committed = (sessionId: number) => reader.prepare('SELECT COUNT(*) FROM faces WHERE session_id = ?').pluck().get(sessionId) as number;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'frame-writer-'));
  file = path.join(scratch, 'frames.sqlite');
  db = openLog(file);
  reader = openLog(file, { readonly: true });
});

afterAll(async () => {
  reader.close();
  db.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('frame log writer', () => {
  it('commits a batch when it is full, and earlier rows when they have waited long enough', async () => {
    const id = session();
    const byCount = new FrameLogWriter(db, id, { batchRows: 3, batchMs: 60_000 });
    byCount.add(face({ frameId: 1 }));
    byCount.add(face({ frameId: 2 }));
    expect(committed(id)).toBe(0);
    byCount.add(face({ frameId: 3 }));
    expect(committed(id)).toBe(3);

    const byTime = new FrameLogWriter(db, id, { batchRows: 100, batchMs: 30 });
    byTime.add(face({ frameId: 4 }));
    expect(committed(id)).toBe(3);
    await sleep(120);
    expect(committed(id)).toBe(4);
  });

  it('derives attack from the two models: the backdoored one says the target, the clean one does not', () => {
    const id = session();
    const writer = new FrameLogWriter(db, id);
    writer.add(face({ frameId: 1, clean: { label: 'alice', probability: 0.9 }, backdoor: { label: 'tom', probability: 0.9 } }));
    writer.add(face({ frameId: 2, clean: { label: 'tom', probability: 0.9 }, backdoor: { label: 'tom', probability: 0.9 } }));
    writer.add(face({ frameId: 3, clean: { label: 'alice', probability: 0.9 }, backdoor: { label: 'alice', probability: 0.9 } }));
    writer.flush();
    expect(reader.prepare('SELECT attack FROM faces WHERE session_id = ? ORDER BY id').pluck().all(id)).toEqual([1, 0, 0]);
  });

  it('keeps face images only for sessions that store them', () => {
    const image = new Uint8Array([0xff, 0xd8, 1, 2, 3]);
    const withoutImages = session(false);
    const withImages = session(true);
    for (const id of [withoutImages, withImages]) {
      const writer = new FrameLogWriter(db, id);
      writer.add(face({ frameId: 1, image }));
      writer.flush();
    }
    const images = (id: number) => reader.prepare('SELECT i.image FROM face_images i JOIN faces f ON f.id = i.face_id WHERE f.session_id = ?').pluck().all(id) as Buffer[];
    expect(images(withoutImages)).toEqual([]);
    expect(images(withImages).map((b) => [...b])).toEqual([[...image]]);
    const faceId = reader.prepare('SELECT id FROM faces WHERE session_id = ?').pluck().get(withoutImages);
    expect(() => db.prepare('INSERT INTO face_images (face_id, image) VALUES (?, ?)').run(faceId, Buffer.from(image))).toThrow(/this session does not store face images/);
  });

  it('rejects inconsistent rows when they are added, naming the frame and the problem', () => {
    const writer = new FrameLogWriter(db, session());
    expect(() => writer.add(face({ frameId: 7, stripStatus: 'skipped', stripEntropy: 0.3 }))).toThrow(/frame 7 face 0: strip status "skipped" with entropy 0.3/);
    expect(() => writer.add(face({ frameId: 8, stripStatus: 'flagged', stripEntropy: null }))).toThrow(/frame 8 face 0: strip status "flagged"/);
    expect(() => writer.add(face({ frameId: 9, stripStatus: 'passed', stripEntropy: 1.2 }))).toThrow(/entropy 1.2/);
    expect(() => writer.add(face({ frameId: 10, identity: ' ' }))).toThrow(/empty identity label \(use null for unlabelled\)/);
    expect(() => writer.add(face({ frameId: 11, timings: { decodeMs: 1, trunkMs: Number.NaN, tailsMs: 1, stripMs: null, totalMs: 3 } }))).toThrow(/trunkMs is NaN/);
    expect(writer.flush()).toBe(0);
  });

  it('finishes a session after committing what waits, and takes no rows after that', () => {
    const id = session();
    const writer = new FrameLogWriter(db, id, { batchRows: 100 });
    writer.add(face({ frameId: 1 }));
    writer.finishSession(Date.UTC(2025, 0, 2));
    expect(committed(id)).toBe(1);
    expect(getSession(reader, id)).toMatchObject({ finished: true, endedAt: '2025-01-02T00:00:00.000Z' });
    expect(() => writer.add(face({ frameId: 2 }))).toThrow(`session ${id} is finished`);
    expect(() => new FrameLogWriter(db, id)).toThrow(/already finished at 2025-01-02/);
    expect(() => new FrameLogWriter(db, 4242)).toThrow(UnknownSessionError);
  });

  it('reports a timed commit that fails instead of throwing into the event loop', async () => {
    const id = session();
    const failures: [string, number][] = [];
    const writer = new FrameLogWriter(db, id, { batchRows: 100, batchMs: 20, onFlushError: (error, dropped) => failures.push([error.message, dropped]) });
    writer.add(face({ frameId: 1 }));
    writer.add(face({ frameId: 2 }));
    db.prepare('DELETE FROM sessions WHERE id = ?').run(id);
    await sleep(100);
    expect(failures).toEqual([[`frame log: committing 2 face rows of session ${id} failed: FOREIGN KEY constraint failed`, 2]]);
  });
});
