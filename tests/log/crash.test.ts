import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../server/config.ts';
import { getSession, listSessions, openLog } from '../../server/log/db.ts';
import { sessionReport } from '../../server/log/reports.ts';

const BATCH = 7;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'frame-crash-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

it('keeps every committed batch of a writer killed mid-session, and shows the session unfinished', async () => {
  const file = path.join(scratch, 'frames.sqlite');
  // node --import tsx rather than npx tsx: the pid is then the writer itself, not a wrapper around it.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'tests/log/crashWriter.ts'), file, String(BATCH)], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

  let sessionId = 0;
  let lastCommitted = 0;
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.on('exit', () => reject(new Error(`writer exited before the test killed it: ${stderr}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [word, n] = line.split(' ');
        if (word === 'session') sessionId = Number(n);
        if (word === 'committed') lastCommitted = Number(n);
      }
      // Kill while it is writing, somewhere between two commits.
      if (lastCommitted >= 20 * BATCH) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  expect(await exited).toBe('SIGKILL');

  const db = openLog(file);
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = db.prepare('SELECT frame_id FROM faces WHERE session_id = ? ORDER BY id').pluck().all(sessionId) as number[];
    expect(rows.length).toBeGreaterThanOrEqual(lastCommitted);
    expect(rows.length % BATCH).toBe(0);
    expect(rows).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    expect(getSession(db, sessionId)).toMatchObject({ finished: false, endedAt: null });
    expect(listSessions(db)[0]).toMatchObject({ id: sessionId, faces: rows.length, finished: false });
    expect(sessionReport(db, sessionId).pairs[0].faces).toBe(rows.length);
  } finally {
    db.close();
  }
});
