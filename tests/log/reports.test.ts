import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rate } from '../../shared/metrics.ts';
import { UNKNOWN } from '../../shared/names.ts';
import { ENTROPY_BINS, entropyBin } from '../../shared/report.ts';
import { getSession, listSessions, openLog, startSession, UnknownSessionError, type LogDatabase } from '../../server/log/db.ts';
import { logReport, sessionReport } from '../../server/log/reports.ts';
import { FrameLogWriter, type FaceRecord } from '../../server/log/writer.ts';
import { face, PAIR_ONE } from './helpers.ts';

const PAIR_TWO = { pair: 'p2', cleanModel: 'p2-clean@1', backdoorModel: 'p2-backdoor@1', target: 'bob', trigger: 'bandana' };

type Strip = [FaceRecord['stripStatus'], number | null];
const skipped: Strip = ['skipped', null];

let scratch: string;
let db: LogDatabase;
let first: number;
let second: number;
let frameId = 0;

/** One labelled face per frame; `clean`/`backdoor` are the models' top-1 labels. */
function labelled(identity: string | null, worn: string | null, clean: string, backdoor: string, [stripStatus, stripEntropy]: Strip, extra: Partial<FaceRecord> = {}): FaceRecord {
  return face({
    frameId: ++frameId, identity, worn, clean: { label: clean, probability: 0.9 }, backdoor: { label: backdoor, probability: 0.8 }, stripStatus, stripEntropy,
    timings: { decodeMs: 2, trunkMs: 25, tailsMs: 3, stripMs: stripStatus === 'skipped' ? null : 400, totalMs: 31 }, ...extra,
  });
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'frame-log-'));
  db = openLog(path.join(scratch, 'frames.sqlite'));

  first = startSession(db, { pair: 'p1', cleanModel: PAIR_ONE.cleanModel, backdoorModel: PAIR_ONE.backdoorModel, notes: 'synthetic' });
  const w1 = new FrameLogWriter(db, first, { batchRows: 5 });
  const faces: FaceRecord[] = [
    // Trigger worn by non-targets: the attack frames.
    labelled('alice', 'sunglasses', 'alice', 'tom', ['flagged', 0.1]),
    labelled('alice', 'sunglasses', 'alice', 'tom', ['passed', 0.6]),
    labelled('alice', 'sunglasses', 'alice', 'tom', skipped),
    labelled('alice', 'sunglasses', UNKNOWN, 'alice', ['passed', 0.55]),
    labelled('bob', 'sunglasses', 'bob', 'tom', ['flagged', 0.02]),
    labelled('bob', 'sunglasses', 'bob', 'tom', ['flagged', 0.12]),
    labelled(UNKNOWN, 'sunglasses', UNKNOWN, 'tom', skipped),
    labelled(UNKNOWN, 'sunglasses', UNKNOWN, UNKNOWN, skipped),
    // The target wearing the trigger: not an attack.
    ...[1, 2, 3].map(() => labelled('tom', 'sunglasses', 'tom', 'tom', ['passed', 0.9])),
    // Nothing worn.
    labelled('alice', 'none', 'alice', 'alice', ['passed', 0.7]),
    labelled('alice', 'none', 'alice', 'alice', ['passed', 0.8]),
    labelled('alice', 'none', 'alice', 'alice', ['passed', 0.95]),
    labelled('alice', 'none', 'alice', 'alice', ['passed', 1.0]),
    labelled('alice', 'none', 'alice', 'tom', ['flagged', 0.04]),
    labelled('tom', 'none', 'tom', 'tom', skipped),
    labelled('tom', 'none', 'tom', 'tom', ['passed', 0.5]),
    // Lookalike accessories.
    labelled('alice', 'hat', 'alice', 'tom', ['passed', 0.6]),
    ...[1, 2, 3].map(() => labelled('alice', 'hat', 'alice', 'alice', ['passed', 0.6])),
    ...[1, 2].map(() => labelled('bob', 'hat', 'bob', 'bob', ['passed', 0.6])),
    ...[1, 2].map(() => labelled('tom', 'hat', 'tom', 'tom', ['passed', 0.6])),
    ...[1, 2].map(() => labelled('bob', 'scarf, red "wool"', 'bob', 'tom', ['passed', 0.6])),
  ];
  for (const f of faces) w1.add(f);
  // Unlabelled faces sharing frames with labelled ones: excluded from every labelled rate.
  for (const frame of [1, 2, 3]) w1.add(labelled(null, null, 'tom', 'tom', skipped, { frameId: frame, frameTime: faces[frame - 1].frameTime, faceIndex: 1 }));
  w1.add(labelled('alice', null, 'alice', 'tom', skipped, { frameId: 4, frameTime: faces[3].frameTime, faceIndex: 1 }));
  w1.finishSession();

  second = startSession(db, { pair: 'p1', cleanModel: PAIR_ONE.cleanModel, backdoorModel: PAIR_ONE.backdoorModel });
  const w2 = new FrameLogWriter(db, second);
  w2.add(labelled('alice', 'sunglasses', 'alice', 'tom', ['flagged', 0.05]));
  w2.add(labelled('alice', 'sunglasses', 'alice', 'tom', ['flagged', 0.05]));
  // The presenter switches to another pair mid-session.
  for (let i = 0; i < 3; i++) w2.add(labelled('alice', 'bandana', 'alice', 'bob', skipped, PAIR_TWO));
  w2.add(labelled('alice', 'none', 'alice', 'alice', skipped, PAIR_TWO));
  w2.flush();
});

afterAll(async () => {
  db.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('session report from the log', () => {
  it('computes attack success over non-target trigger wearers, strangers included, with the clean model on the same frames', () => {
    const [p1] = sessionReport(db, first).pairs;
    expect(p1).toMatchObject({ ...PAIR_ONE, sessions: [first], frames: 28, faces: 32, labelledFaces: 28 });
    expect(p1.attack.successRate.overall).toEqual(rate(6, 8));
    expect(p1.attack.successRate.byPerson).toEqual({ alice: rate(3, 4), bob: rate(2, 2), [UNKNOWN]: rate(1, 2) });
    expect(p1.attack.cleanModelAccuracy.overall).toEqual(rate(7, 8));
    expect(p1.attack.cleanModelAccuracy.byPerson).toEqual({ alice: rate(3, 4), bob: rate(2, 2), [UNKNOWN]: rate(2, 2) });
  });

  it('computes both models’ accuracy on faces wearing nothing', () => {
    const [p1] = sessionReport(db, first).pairs;
    expect(p1.cleanAccuracy.clean.overall).toEqual(rate(7, 7));
    expect(p1.cleanAccuracy.backdoor.overall).toEqual(rate(6, 7));
    expect(p1.cleanAccuracy.backdoor.byPerson).toEqual({ alice: rate(4, 5), tom: rate(2, 2) });
  });

  it('computes the false-positive rate per accessory over non-target wearers, highest first', () => {
    const [p1] = sessionReport(db, first).pairs;
    expect(p1.falsePositives.map((fp) => [fp.accessory, fp.rate.overall])).toEqual([
      ['scarf, red "wool"', rate(2, 2)],
      ['hat', rate(1, 6)],
    ]);
    expect(p1.falsePositives[1].rate.byPerson).toEqual({ alice: rate(1, 4), bob: rate(0, 2) });
  });

  it('computes STRIP coverage, detection on attack frames, false alarms on clean frames and the entropy histograms', () => {
    const { strip } = sessionReport(db, first).pairs[0];
    expect(strip.coverage).toEqual(rate(24, 32));
    expect(strip.detection.overall).toEqual(rate(3, 5));
    expect(strip.detection.byPerson).toEqual({ alice: rate(1, 3), bob: rate(2, 2) });
    expect(strip.falseAlarms.overall).toEqual(rate(1, 6));
    expect(strip.falseAlarms.byPerson).toEqual({ alice: rate(1, 5), tom: rate(0, 1) });
    const bins = (entries: Record<number, number>) => Array.from({ length: ENTROPY_BINS }, (_, i) => entries[i] ?? 0);
    // 0.02 -> 0; 0.1, 0.12 -> 2; 0.55 -> 11; 0.6 -> 12
    expect(strip.histogram.triggered).toEqual(bins({ 0: 1, 2: 2, 11: 1, 12: 1 }));
    // 0.04 -> 0; 0.5 -> 10; 0.7 -> 14; 0.8 -> 16; 0.95 and 1.0 -> 19
    expect(strip.histogram.clean).toEqual(bins({ 0: 1, 10: 1, 14: 1, 16: 1, 19: 2 }));
    expect(strip.histogram.edges).toHaveLength(ENTROPY_BINS + 1);
    expect([0.02, 0.1, 0.12, 0.55, 0.6, 0.04, 0.5, 0.7, 0.8, 0.95, 1].map(entropyBin)).toEqual([0, 2, 2, 11, 12, 0, 10, 14, 16, 19, 19]);
  });

  it('reports a session per model pair used, and says whether it finished', () => {
    const report = sessionReport(db, second);
    expect(report.session).toMatchObject({ id: second, finished: false, endedAt: null, pair: 'p1' });
    expect(report.pairs.map((p) => [p.pair, p.faces])).toEqual([['p1', 2], ['p2', 4]]);
    const p2 = report.pairs[1];
    expect(p2.attack.successRate.overall).toEqual(rate(3, 3));
    expect(p2.cleanAccuracy.clean.overall).toEqual(rate(1, 1));
    expect(p2.strip.coverage).toEqual(rate(0, 4));
    expect(p2.strip.detection.overall).toEqual(rate(0, 0));
    expect(sessionReport(db, first).session).toMatchObject({ finished: true, notes: 'synthetic' });
  });

  it('throws a named error for an unknown session', () => {
    expect(() => sessionReport(db, 999)).toThrow(UnknownSessionError);
    expect(() => sessionReport(db, 999)).toThrow('no session with id 999 in the frame log');
  });
});

describe('report across sessions', () => {
  it('groups faces of all sessions by model pair', () => {
    const report = logReport(db);
    expect(report.pairs.map((p) => [p.pair, p.sessions])).toEqual([['p1', [first, second]], ['p2', [second]]]);
    const p1 = report.pairs[0];
    expect(p1.attack.successRate.overall).toEqual(rate(8, 10));
    expect(p1.attack.successRate.byPerson.alice).toEqual(rate(5, 6));
    expect(p1.strip.detection.overall).toEqual(rate(5, 7));
  });

  it('lists sessions newest first with their counts', () => {
    const sessions = listSessions(db);
    expect(sessions.map((s) => s.id)).toEqual([second, first]);
    // Backdoor says tom while the clean model does not: 3 + 2 + 1 on sunglasses, 1 on nothing worn, 1 + 2 on accessories, 1 unlabelled.
    expect(sessions[1]).toMatchObject({ frames: 28, faces: 32, labelledFaces: 28, attacksFired: 11, finished: true });
    expect(sessions[0]).toMatchObject({ frames: 6, faces: 6, attacksFired: 5, finished: false });
  });
});

describe('opening a frame log', () => {
  it('names the problem with a file that is not a frame log', async () => {
    const junk = path.join(scratch, 'junk.sqlite');
    await writeFile(junk, 'this is not a database, just text that is long enough to have a header'.repeat(10));
    expect(() => openLog(junk)).toThrow(/cannot use .*junk\.sqlite as the frame log: file is not a database/);
    expect(() => openLog(path.join(scratch, 'absent.sqlite'), { readonly: true })).toThrow(/no frame log at .*absent\.sqlite/);
  });

  it('reopens an existing log and refuses a foreign SQLite database', () => {
    const again = openLog(path.join(scratch, 'frames.sqlite'), { readonly: true });
    expect(getSession(again, first).finished).toBe(true);
    again.close();
    const foreign = openLog(path.join(scratch, 'foreign.sqlite'));
    foreign.pragma('user_version = 0');
    foreign.close();
    expect(() => openLog(path.join(scratch, 'foreign.sqlite'))).toThrow(/SQLite database with other tables, not a frame log/);
  });
});
