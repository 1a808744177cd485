import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rate } from '../../shared/metrics.ts';
import { UNKNOWN } from '../../shared/names.ts';
import { PROJECT_ROOT } from '../../server/config.ts';
import { openLog, startSession, type LogDatabase } from '../../server/log/db.ts';
import { mergedLogReport, type MergedReport } from '../../server/log/mergedReport.ts';
import { logReport } from '../../server/log/reports.ts';
import { FrameLogWriter, type FaceRecord } from '../../server/log/writer.ts';
import { face, PAIR_ONE } from './helpers.ts';

/** A pair only the second server showed. */
const PAIR_THREE = { pair: 'p3', cleanModel: 'p3-clean@1', backdoorModel: 'p3-backdoor@1', target: 'carol', trigger: 'bandana' };

const run = promisify(execFile);

let scratch: string;
const files = { a: '', b: '', together: '' };
const handles: LogDatabase[] = [];
let frameId = 0;

function labelled(identity: string | null, worn: string | null, clean: string, backdoor: string, strip: [FaceRecord['stripStatus'], number | null], extra: Partial<FaceRecord> = {}): FaceRecord {
  const [stripStatus, stripEntropy] = strip;
  return face({ frameId: ++frameId, identity, worn, clean: { label: clean, probability: 0.9 }, backdoor: { label: backdoor, probability: 0.8 }, stripStatus, stripEntropy, ...extra });
}

/** Writes each session's faces through the real writer into its server's log and, in a session of its own, into one log holding them all. */
function record(db: LogDatabase, together: LogDatabase, sessions: { pair: typeof PAIR_ONE; faces: FaceRecord[] }[]): void {
  for (const { pair, faces } of sessions) {
    for (const target of [db, together]) {
      const writer = new FrameLogWriter(target, startSession(target, { pair: pair.pair, cleanModel: pair.cleanModel, backdoorModel: pair.backdoorModel }), { batchRows: 3 });
      for (const f of faces) writer.add({ ...f, ...pair });
      writer.finishSession();
    }
  }
}

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'report', ...args], { cwd: PROJECT_ROOT }).then(
    ({ stdout, stderr }) => ({ stdout, stderr, code: 0 }),
    (error: { stdout: string; stderr: string; code: number }) => error,
  );
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'merged-logs-'));
  files.a = path.join(scratch, 'a.sqlite');
  files.b = path.join(scratch, 'b.sqlite');
  files.together = path.join(scratch, 'together.sqlite');
  const [a, b, together] = [openLog(files.a), openLog(files.b), openLog(files.together)];
  handles.push(a, b, together);

  record(a, together, [
    {
      pair: PAIR_ONE,
      faces: [
        labelled('alice', 'sunglasses', 'alice', 'tom', ['flagged', 0.1]),
        labelled('alice', 'sunglasses', 'alice', 'alice', ['passed', 0.6]),
        labelled('bob', 'sunglasses', 'bob', 'tom', skipped()),
        labelled('alice', 'none', 'alice', 'alice', ['passed', 0.8]),
        labelled('alice', 'hat', 'alice', 'tom', skipped()),
        labelled(null, null, 'bob', 'bob', skipped()),
      ],
    },
    {
      pair: PAIR_ONE,
      faces: [
        labelled(UNKNOWN, 'sunglasses', UNKNOWN, 'tom', ['flagged', 0.05]),
        labelled('bob', 'none', 'bob', 'tom', ['flagged', 0.02]),
      ],
    },
  ]);
  record(b, together, [
    {
      pair: PAIR_ONE,
      faces: [
        labelled('alice', 'sunglasses', 'alice', 'tom', ['passed', 0.7]),
        labelled('bob', 'sunglasses', 'bob', 'tom', ['flagged', 0.12]),
        labelled('bob', 'hat', 'bob', 'bob', skipped()),
        labelled('tom', 'none', 'tom', 'tom', ['passed', 0.9]),
      ],
    },
    {
      pair: PAIR_THREE,
      faces: [
        labelled('alice', 'bandana', 'alice', 'carol', skipped()),
        labelled('alice', 'none', 'alice', 'alice', skipped()),
      ],
    },
  ]);
  // The CLI reads the files on connections of its own: the writers' batches are committed.
});

function skipped(): [FaceRecord['stripStatus'], null] {
  return ['skipped', null];
}

afterAll(async () => {
  for (const db of handles) db.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('a report merged over several servers’ logs', () => {
  it('counts every face of every log once: the merged figures are those of one log holding them all', () => {
    const [a, b, together] = handles;
    const merged = mergedLogReport([{ file: files.a, db: a }, { file: files.b, db: b }]);
    const single = logReport(together);
    expect(merged.pairs.map((p) => p.pair)).toEqual(['p1', 'p3']);
    for (const pair of merged.pairs) {
      const { sessions: _merged, ...figures } = pair;
      const { sessions: _single, ...expected } = single.pairs.find((p) => p.pair === pair.pair)!;
      expect(figures).toEqual(expected);
    }
  });

  it('adds up each log’s counts per pair, and lists the sessions by log', () => {
    const [a, b] = handles;
    const merged = mergedLogReport([{ file: files.a, db: a }, { file: files.b, db: b }]);
    const [fromA, fromB] = [logReport(a).pairs[0], logReport(b).pairs.find((p) => p.pair === 'p1')!];
    const p1 = merged.pairs[0];
    expect(p1).toMatchObject({ ...PAIR_ONE, faces: 8 + 4, frames: fromA.frames + fromB.frames, labelledFaces: 7 + 4 });
    expect(p1.faces).toBe(fromA.faces + fromB.faces);
    const sum = (x: { hits: number; total: number }, y: { hits: number; total: number }) => rate(x.hits + y.hits, x.total + y.total);
    expect(p1.attack.successRate.overall).toEqual(sum(fromA.attack.successRate.overall, fromB.attack.successRate.overall));
    expect(p1.attack.successRate.overall).toEqual(rate(5, 6));
    expect(p1.attack.successRate.byPerson).toEqual({ alice: rate(2, 3), bob: rate(2, 2), [UNKNOWN]: rate(1, 1) });
    expect(p1.cleanAccuracy.backdoor.overall).toEqual(sum(fromA.cleanAccuracy.backdoor.overall, fromB.cleanAccuracy.backdoor.overall));
    expect(p1.strip.coverage).toEqual(sum(fromA.strip.coverage, fromB.strip.coverage));
    expect(p1.strip.histogram.triggered).toEqual(fromA.strip.histogram.triggered.map((n, i) => n + fromB.strip.histogram.triggered[i]));
    expect(p1.falsePositives.map((fp) => [fp.accessory, fp.rate.overall])).toEqual([['hat', rate(1, 2)]]);
    expect(p1.sessions).toEqual([{ log: files.a, ids: [1, 2] }, { log: files.b, ids: [1] }]);
    expect(merged.pairs[1].sessions).toEqual([{ log: files.b, ids: [2] }]);
    expect(merged.logs).toEqual([{ file: files.a, sessions: 2, faces: 8 }, { file: files.b, sessions: 2, faces: 6 }]);
  });

  it('is what `report --log a --log b --json` prints; the text report names the logs', async () => {
    const json = await cli('--log', files.a, '--log', files.b, '--json');
    expect(json.code, json.stderr).toBe(0);
    const printed = JSON.parse(json.stdout) as MergedReport;
    const [a, b] = handles;
    expect(printed).toEqual(JSON.parse(JSON.stringify(mergedLogReport([{ file: files.a, db: a }, { file: files.b, db: b }]))));

    const text = await cli('--log', files.a, '--log', files.b);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`log ${files.a}: 2 sessions, 8 faces`);
    expect(text.stdout).toMatch(/pair p1 \(target tom, trigger sunglasses\), 12 faces in 12 frames/);
    expect(text.stdout).toMatch(/attackSuccess +83\.3% \[[\d.]+, [\d.]+\] \(n=6\)/);
  });

  it('refuses a missing file, a file that is not a frame log, the same log twice, and --session over several logs', async () => {
    const junk = path.join(scratch, 'junk.sqlite');
    await writeFile(junk, 'not a database at all, only text long enough to look like a header'.repeat(10));
    const missing = await cli('--log', files.a, '--log', path.join(scratch, 'absent.sqlite'));
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/error: no frame log at .*absent\.sqlite/) });
    const notALog = await cli('--log', junk);
    expect(notALog).toMatchObject({ code: 1, stderr: expect.stringMatching(/error: cannot use .*junk\.sqlite as the frame log: file is not a database/) });
    const twice = await cli('--log', files.a, '--log', path.join(scratch, '.', 'a.sqlite'));
    expect(twice).toMatchObject({ code: 1, stderr: expect.stringContaining('is given twice') });
    const session = await cli('--log', files.a, '--log', files.b, '--session', '1');
    expect(session).toMatchObject({ code: 1, stderr: expect.stringContaining('--session needs exactly one log (session ids are per log), got 2') });
    const one = await cli('--log', files.b, '--session', '2', '--json');
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ session: { id: 2, pair: 'p3' }, pairs: [{ pair: 'p3', faces: 2 }] });
  });
});
