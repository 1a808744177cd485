import type { ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FramePayload, FrameReply } from '../../shared/protocol.ts';
import { datasetDir } from '../../server/config.ts';
import { defaultLogFile, getSession, listSessions, openLog } from '../../server/log/db.ts';
import { DEMO } from '../../server/train/demoPair.ts';
import { useDemoWorkspace, type DemoWorkspace } from './demoWorkspace.ts';
import { startServerProcess } from './serverProcess.ts';

let workspace: DemoWorkspace;
const children: ChildProcess[] = [];

beforeAll(async () => {
  workspace = await useDemoWorkspace();
}, 300_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

async function started() {
  const server = await startServerProcess(workspace);
  children.push(server.process);
  return server;
}

function loggedFaces(sessionId: number): number {
  const log = openLog(defaultLogFile(), { readonly: true });
  try {
    return listSessions(log).find((s) => s.id === sessionId)?.faces ?? 0;
  } finally {
    log.close();
  }
}

describe('per-frame log across a server crash', () => {
  it('keeps every committed batch of a session whose server was killed, and marks it unfinished', async () => {
    const first = await started();
    const client = io(first.url, { transports: ['websocket'], reconnection: false });
    await new Promise((resolve, reject) => {
      client.once('activePair', resolve);
      client.once('connect_error', reject);
    });
    const folder = path.join(datasetDir(DEMO.dataset), 'person-02', 'clean');
    const chip = new Uint8Array(await sharp(path.join(folder, (await readdir(folder))[0])).jpeg({ quality: 90 }).toBuffer());
    const frames = 5;
    for (let frameId = 0; frameId < frames; frameId++) {
      const reply: FrameReply = await client.timeout(60_000).emitWithAck('frame', { frameId, capturedAt: Date.now(), faces: [{ box: { x: 10, y: 10, width: 150, height: 150 }, chip }] } satisfies FramePayload);
      expect(reply.ok).toBe(true);
    }
    const log = openLog(defaultLogFile(), { readonly: true });
    const sessionId = Math.max(...listSessions(log).map((s) => s.id));
    log.close();
    const deadline = Date.now() + 30_000;
    while (loggedFaces(sessionId) < frames && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const committed = loggedFaces(sessionId);
    expect(committed).toBe(frames);

    first.process.kill('SIGKILL');
    await new Promise((resolve) => first.process.once('exit', resolve));
    client.close();

    const second = await started();
    const after = openLog(defaultLogFile(), { readonly: true });
    try {
      expect(getSession(after, sessionId).finished).toBe(false);
      expect(loggedFaces(sessionId)).toBe(committed);
    } finally {
      after.close();
    }
    const sessions = (await (await fetch(`${second.url}/api/sessions`)).json()) as { sessions: { id: number; finished: boolean }[] };
    expect(sessions.sessions.find((s) => s.id === sessionId)).toMatchObject({ finished: false });
    second.process.kill('SIGKILL');
  }, 180_000);
});
