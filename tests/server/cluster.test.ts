import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, DEMO_BANDANA } from '../../server/train/demoPair.ts';
import type { ClientToServerEvents, HealthReply, PairSummary, ServerToClientEvents } from '../../shared/protocol.ts';
import { useDemoWorkspace, type DemoWorkspace } from './demoWorkspace.ts';
import { startServerProcess, type ServerProcess } from './serverProcess.ts';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
/** A pair only node A has: the demo pair's models copied under another name. */
const ONLY_ON_A = 'only-on-a';

const children: ChildProcess[] = [];
const clients: Client[] = [];
const scratch: string[] = [];
let redisUrl: string;
let nodeA: ServerProcess;
let nodeB: ServerProcess;
let nodeC: ServerProcess;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Debian's redis-server on a free loopback port, keeping nothing on disk. */
async function startRedis(): Promise<string> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.stderr!.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  return `redis://127.0.0.1:${port}`;
}

/** A node's own DATA_DIR and MODELS_DIR, with copies of the demo workspace's model pairs. */
async function nodeWorkspace(demo: DemoWorkspace, name: string): Promise<DemoWorkspace> {
  const root = await mkdtemp(path.join(tmpdir(), `cluster-${name}-`));
  scratch.push(root);
  const workspace = { dataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models') };
  await cp(demo.modelsDir, workspace.modelsDir, { recursive: true });
  return workspace;
}

/** Copies `from`'s two bundles as pair `to`: the folder names and the cards' names agree, as uploads require. */
async function copyPair(modelsDir: string, from: string, to: string): Promise<void> {
  for (const role of ['clean', 'backdoor']) {
    const dir = path.join(modelsDir, `${to}-${role}`);
    await cp(path.join(modelsDir, `${from}-${role}`), dir, { recursive: true });
    const card = JSON.parse(await readFile(path.join(dir, 'card.json'), 'utf8')) as { name: string; pair: string };
    await writeFile(path.join(dir, 'card.json'), JSON.stringify({ ...card, name: `${to}-${role}`, pair: to }, null, 2));
  }
}

async function connect(url: string): Promise<{ client: Client; pairs: string[] }> {
  const client: Client = io(url, { transports: ['websocket'], reconnection: false });
  clients.push(client);
  const pairs: string[] = [];
  client.on('activePair', (pair) => pairs.push(pair.name));
  await new Promise((resolve, reject) => {
    client.once('activePair', resolve);
    client.once('connect_error', reject);
  });
  return { client, pairs };
}

async function health(url: string): Promise<HealthReply> {
  const response = await fetch(`${url}/api/health`);
  expect(response.status).toBe(200);
  return (await response.json()) as HealthReply;
}

function nextPair(client: Client, name: string): Promise<PairSummary> {
  return new Promise((resolve) => {
    const listener = (pair: PairSummary) => {
      if (pair.name !== name) return;
      client.off('activePair', listener);
      resolve(pair);
    };
    client.on('activePair', listener);
  });
}

const port = (url: string) => new URL(url).port;
const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

describe.skipIf(!hasRedis)(`two servers sharing the active pair through Redis${hasRedis ? '' : ' (skipped: no redis-server on PATH; apt-get install redis-server)'}`, () => {
  beforeAll(async () => {
    const demo = await useDemoWorkspace();
    const [workspaceA, workspaceB] = [await nodeWorkspace(demo, 'a'), await nodeWorkspace(demo, 'b')];
    await copyPair(workspaceA.modelsDir, DEMO.pair, ONLY_ON_A);
    redisUrl = await startRedis();
    // One inference worker each: two servers share the machine's cores.
    nodeA = await startServerProcess(workspaceA, { REDIS_URL: redisUrl, INFER_WORKERS: '1' });
    children.push(nodeA.process);
    nodeB = await startServerProcess(workspaceB, { REDIS_URL: redisUrl, INFER_WORKERS: '1' });
    children.push(nodeB.process);
  }, 300_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('reports each node and the shared Redis in /api/health', async () => {
    const redis = new URL(redisUrl).host;
    expect(await health(nodeA.url)).toMatchObject({ activePair: DEMO.pair, cluster: { node: expect.stringMatching(new RegExp(`:${port(nodeA.url)}$`)), redis } });
    expect(await health(nodeB.url)).toMatchObject({ activePair: DEMO.pair, cluster: { node: expect.stringMatching(new RegExp(`:${port(nodeB.url)}$`)), redis } });
  });

  it('makes a pair switched on one node live on the other, announced once to each client', async () => {
    const { client: presenter, pairs: seenOnA } = await connect(nodeA.url);
    const { client: audience, pairs: seenOnB } = await connect(nodeB.url);
    const announced = nextPair(audience, DEMO_BANDANA.pair);

    const switched = await presenter.timeout(30_000).emitWithAck('selectPair', DEMO_BANDANA.pair);
    expect(switched).toMatchObject({ ok: true, pair: { name: DEMO_BANDANA.pair } });
    expect(await announced).toMatchObject({ name: DEMO_BANDANA.pair, target: DEMO_BANDANA.target });
    expect((await health(nodeB.url)).activePair).toBe(DEMO_BANDANA.pair);
    expect((await health(nodeA.url)).activePair).toBe(DEMO_BANDANA.pair);

    // Back from the other node, over HTTP: a switch applied because another node announced it is not announced again.
    const back = nextPair(presenter, DEMO.pair);
    const response = await fetch(`${nodeB.url}/api/models/${DEMO.pair}/activate`, { method: 'POST' });
    expect(response.status).toBe(200);
    await back;
    await settle();
    expect(seenOnA).toEqual([DEMO.pair, DEMO_BANDANA.pair, DEMO.pair]);
    expect(seenOnB).toEqual([DEMO.pair, DEMO_BANDANA.pair, DEMO.pair]);
    expect((await health(nodeA.url)).activePair).toBe(DEMO.pair);
  });

  it('refuses everywhere a pair one node lacks, naming the pair and that node', async () => {
    const { client: onA, pairs: seenOnA } = await connect(nodeA.url);
    const { client: onB, pairs: seenOnB } = await connect(nodeB.url);
    const lacking = `pair "${ONLY_ON_A}" is not on every server: node `;

    const refused = await onA.timeout(30_000).emitWithAck('selectPair', ONLY_ON_A);
    expect(refused).toMatchObject({ ok: false });
    if (!refused.ok) {
      expect(refused.error).toContain(lacking);
      expect(refused.error).toMatch(new RegExp(`node [^ ]+:${port(nodeB.url)} has no model pair named "${ONLY_ON_A}"`));
      expect(refused.error).not.toContain(`:${port(nodeA.url)} `);
    }

    const overHttp = await fetch(`${nodeA.url}/api/models/${ONLY_ON_A}/activate`, { method: 'POST' });
    expect(overHttp.status).toBe(409);
    expect(((await overHttp.json()) as { error: string }).error).toContain(lacking);

    const onItsOwn = await onB.timeout(30_000).emitWithAck('selectPair', ONLY_ON_A);
    expect(onItsOwn).toMatchObject({ ok: false, error: expect.stringMatching(new RegExp(`^no model pair named "${ONLY_ON_A}"`)) });

    await settle();
    expect((await health(nodeA.url)).activePair).toBe(DEMO.pair);
    expect((await health(nodeB.url)).activePair).toBe(DEMO.pair);
    expect(seenOnA).toEqual([DEMO.pair]);
    expect(seenOnB).toEqual([DEMO.pair]);
  });

  it('refuses a switch while a node does not answer, and leaves every node as it was', async () => {
    const { client: onA, pairs: seenOnA } = await connect(nodeA.url);
    // A frozen process keeps its Redis subscription but answers nothing.
    nodeB.process.kill('SIGSTOP');
    try {
      const refused = await onA.timeout(30_000).emitWithAck('selectPair', DEMO_BANDANA.pair);
      expect(refused).toMatchObject({ ok: false, error: `pair "${DEMO_BANDANA.pair}" not switched: not every server answered within 5 s (answered: none), and every server must confirm it has a pair before it goes live` });
    } finally {
      nodeB.process.kill('SIGCONT');
    }
    expect((await health(nodeA.url)).activePair).toBe(DEMO.pair);
    expect((await health(nodeB.url)).activePair).toBe(DEMO.pair);
    expect(seenOnA).toEqual([DEMO.pair]);
  });

  it('refuses to start when Redis cannot be reached, and says so', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const workspace = await nodeWorkspace(await useDemoWorkspace(), 'no-redis');
    await expect(startServerProcess(workspace, { REDIS_URL: closed, INFER_WORKERS: '1' })).rejects.toThrow(
      new RegExp(`exited \\(1\\)[^]*error: cannot reach Redis at REDIS_URL \\(127\\.0\\.0\\.1:${port(closed)}\\)[^]*unset REDIS_URL`),
    );
  });

  it('starts a further server on the pair the others show, and refuses to start one that lacks it', async () => {
    const { client } = await connect(nodeA.url);
    expect(await client.timeout(30_000).emitWithAck('selectPair', DEMO_BANDANA.pair)).toMatchObject({ ok: true });
    const demo = await useDemoWorkspace();
    nodeC = await startServerProcess(await nodeWorkspace(demo, 'c'), { REDIS_URL: redisUrl, INFER_WORKERS: '1' });
    children.push(nodeC.process);
    expect((await health(nodeC.url)).activePair).toBe(DEMO_BANDANA.pair);

    const withoutBandana = await nodeWorkspace(demo, 'd');
    for (const role of ['clean', 'backdoor']) await rm(path.join(withoutBandana.modelsDir, `${DEMO_BANDANA.pair}-${role}`), { recursive: true });
    await expect(startServerProcess(withoutBandana, { REDIS_URL: redisUrl, INFER_WORKERS: '1' })).rejects.toThrow(
      new RegExp(`exited \\(1\\)[^]*error: the other servers show pair "${DEMO_BANDANA.pair}" \\(node [^)]+\\), which this server cannot load: no model pair named "${DEMO_BANDANA.pair}"`),
    );
  });

  it('says goodbye to Redis when it shuts down', async () => {
    // MONITOR lists every command Redis runs: the node's two connections must each send QUIT.
    const monitor = net.connect(Number(new URL(redisUrl).port), '127.0.0.1');
    let seen = '';
    monitor.on('data', (chunk) => (seen += chunk));
    monitor.write('MONITOR\r\n');
    try {
      await new Promise<void>((resolve) => monitor.once('data', () => resolve()));
      const exited = new Promise<number | null>((resolve) => nodeC.process.once('exit', resolve));
      nodeC.process.kill('SIGTERM');
      expect(await exited).toBe(0);
      await settle();
      expect(seen.match(/"QUIT"/gi) ?? []).toHaveLength(2);
    } finally {
      monitor.destroy();
    }
  });
});
