import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteSession, listSessions, openLog, startSession, UnknownSessionError, type LogDatabase } from '../../server/log/db.ts';
import { FrameLogWriter } from '../../server/log/writer.ts';
import { face } from './helpers.ts';

let scratch: string;
let file: string;
let db: LogDatabase;

/** Stands in for a stored face chip: bytes that cannot occur in the log by chance. */
const FACE_IMAGE = Buffer.from('VOLUNTEER-FACE-IMAGE-'.repeat(200));

function recordSession(storeImages: boolean, finish = true): number {
  const id = startSession(db, { pair: 'p1', cleanModel: 'c', backdoorModel: 'b', storeImages });
  const writer = new FrameLogWriter(db, id);
  for (let frameId = 1; frameId <= 20; frameId++) writer.add(face({ frameId, image: FACE_IMAGE }));
  if (finish) writer.finishSession();
  else writer.flush();
  return id;
}

/** Every byte of the log on disk: the database file and whatever SQLite keeps beside it. */
async function bytesOnDisk(): Promise<Buffer> {
  const files = (await readdir(scratch)).filter((name) => name.startsWith('frames.sqlite'));
  return Buffer.concat(await Promise.all(files.map((name) => readFile(path.join(scratch, name)))));
}

beforeEach(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'delete-session-'));
  file = path.join(scratch, 'frames.sqlite');
  db = openLog(file);
});

afterEach(async () => {
  db.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('deleting a logged session', () => {
  it('removes its rows and face images, leaves no copy of the images on disk, and keeps the other sessions', async () => {
    const kept = recordSession(false);
    const deleted = recordSession(true);
    expect((await bytesOnDisk()).includes(FACE_IMAGE.subarray(0, 100))).toBe(true);

    expect(deleteSession(db, deleted)).toMatchObject({ session: { id: deleted, storeImages: true }, purged: true });
    expect(listSessions(db).map((s) => s.id)).toEqual([kept]);
    expect(db.prepare('SELECT COUNT(*) FROM faces WHERE session_id = ?').pluck().get(deleted)).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM face_images').pluck().get()).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM faces WHERE session_id = ?').pluck().get(kept)).toBe(20);
    expect((await bytesOnDisk()).includes(FACE_IMAGE.subarray(0, 100))).toBe(false);
  });

  it('says so when a reader keeps the write-ahead log from being emptied', () => {
    const id = recordSession(true);
    const reader = openLog(file, { readonly: true });
    const rows = reader.prepare('SELECT id FROM sessions').iterate();
    rows.next();
    try {
      expect(deleteSession(db, id).purged).toBe(false);
    } finally {
      rows.return?.();
      reader.close();
    }
    expect(listSessions(db)).toEqual([]);
  });

  it('refuses while a session may be recording, unless told it was cut short, and names an unknown session', () => {
    const finished = recordSession(true);
    const running = recordSession(true, false);
    expect(() => deleteSession(db, running)).toThrow(/session \d+ is unfinished: one may be recording.*--unfinished/);
    expect(() => deleteSession(db, finished)).toThrow(new RegExp(`session ${running} is unfinished`));
    expect(listSessions(db).map((s) => s.id).sort()).toEqual([finished, running].sort());
    deleteSession(db, running, { unfinished: true });
    deleteSession(db, finished);
    expect(listSessions(db)).toEqual([]);
    expect(() => deleteSession(db, 999)).toThrow(UnknownSessionError);
  });
});
