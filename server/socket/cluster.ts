import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import type { Server } from 'socket.io';
import { z } from 'zod';
import { ConflictError } from '../errors.ts';
import type { ActivePair } from '../ml/activePair.ts';
import { existingPair } from '../ml/pair.ts';

/**
 * Several servers behind a load balancer, joined through Socket.IO's Redis adapter: broadcasts
 * reach every server's clients, and the servers keep one active pair with Socket.IO's own
 * server-side events (`serverSideEmit` with acknowledgements). Each server keeps its own inference
 * pool, models directory and frame log.
 *
 * - A switch asked on any server first asks every other server whether it has the pair; it is
 *   refused, on every server, when one lacks it or does not answer within CLUSTER_TIMEOUT_MS.
 * - Then it switches here and is announced; the other servers switch too (without announcing it
 *   again) and tell their own clients.
 * - Two switches asked at once on different servers: the later in a logical clock wins on every
 *   server (ties go to the larger server id), so the servers end on the same pair.
 * - A server that joins takes the pair the others show, and refuses to start without it, or
 *   without Redis. A server that loses Redis later refuses switches asked on it until Redis is back;
 *   the others no longer count it (Redis dropped its subscription), so it misses their switches
 *   and is back in step at the next one.
 */

/** How long a server waits for the others' answers (to "do you have this pair?", "switched"). */
export const CLUSTER_TIMEOUT_MS = 5000;

const EVENTS = { hasPair: 'cluster:hasPair', switched: 'cluster:switched', activePair: 'cluster:activePair' } as const;

const stampSchema = z.object({ seq: z.number().int().nonnegative(), node: z.string() });
type Stamp = z.infer<typeof stampSchema>;
const switchedSchema = z.object({ pair: z.string(), stamp: stampSchema });
const hasPairReplySchema = z.object({ node: z.string(), has: z.boolean() });
const activeReplySchema = z.object({ node: z.string(), pair: z.string(), stamp: stampSchema, joined: z.boolean() });
const switchedReplySchema = z.object({ node: z.string(), ok: z.boolean(), error: z.string().optional() });

/** `a` was asked after `b` (a total order: ties on the clock go to the larger server id). */
function newer(a: Stamp, b: Stamp): boolean {
  return a.seq > b.seq || (a.seq === b.seq && a.node > b.node);
}

/** What `/api/health` says of the cluster. */
export interface ClusterHealth {
  /** This server: host name and port. */
  node: string;
  /** The Redis the servers share, host:port only (never credentials). */
  redis: string;
}

export interface Cluster {
  readonly health: ClusterHealth;
  /** Closes the Redis connections; call after the Socket.IO server is closed. */
  close(): Promise<void>;
}

/**
 * The other servers' answers, and after a timeout the ones that came. The adapter times out the
 * answers, but not its count of servers, which waits for Redis: a timer of ours bounds both.
 */
async function askOthers(io: Server, event: string, ...args: unknown[]): Promise<{ replies: unknown[]; complete: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<{ replies: unknown[]; complete: boolean }>((resolve) => {
    timer = setTimeout(() => resolve({ replies: [], complete: false }), CLUSTER_TIMEOUT_MS + 1000);
  });
  const asked = io.serverSideEmitWithAck(event, ...args).then(
    (replies: unknown[]) => ({ replies, complete: true }),
    (error: unknown) => ({ replies: (error as { responses?: unknown[] }).responses ?? [], complete: false }),
  );
  try {
    return await Promise.race([asked, giveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** The replies that parse; the rest (another version of this program, say) are logged and dropped. */
function parsed<T>(schema: z.ZodType<T>, replies: unknown[], what: string): T[] {
  return replies.flatMap((reply) => {
    const result = schema.safeParse(reply);
    if (!result.success) console.warn(`cluster: ignoring a malformed answer to "${what}": ${JSON.stringify(reply)}`);
    return result.success ? [result.data] : [];
  });
}

/**
 * Connects to Redis at `redisUrl`, puts the Socket.IO server on the Redis adapter and keeps
 * `models` in step with the other servers. Call before the HTTP server listens. Throws, with what to
 * do, when Redis cannot be reached or the others show a pair this server does not have.
 */
export async function joinCluster(io: Server, models: ActivePair, redisUrl: string): Promise<Cluster> {
  const url = new URL(redisUrl);
  const redis = `${url.hostname}:${url.port || '6379'}`;
  const uid = randomUUID();
  const node = (): string => {
    const address = io.httpServer?.address();
    return `${os.hostname()}:${address && typeof address === 'object' ? address.port : '(not listening)'}`;
  };

  let connected = false;
  let lastError = '';
  const pub = createClient({
    url: redisUrl,
    socket: {
      connectTimeout: CLUSTER_TIMEOUT_MS,
      // At start a failure is final (the server refuses to start); later, reconnect with backoff.
      reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(100 * 2 ** retries, 5000) : cause),
    },
  });
  const sub = pub.duplicate();
  for (const [client, role] of [[pub, 'publisher'], [sub, 'subscriber']] as const) {
    client.on('error', (error: Error) => {
      if (!connected || error.message === lastError) return;
      lastError = error.message;
      console.error(`cluster: Redis at ${redis} (${role}): ${error.message}; reconnecting`);
    });
    client.on('ready', () => {
      if (connected && lastError) console.log(`cluster: Redis at ${redis} (${role}) reachable again`);
      lastError = '';
    });
  }
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (error) {
    await Promise.allSettled([pub.disconnect(), sub.disconnect()]);
    throw new Error(`cannot reach Redis at REDIS_URL (${redis}): ${(error as Error).message}. Start Redis there, or unset REDIS_URL to run a single server`);
  }
  connected = true;

  io.adapter(createAdapter(pub, sub, { requestsTimeout: CLUSTER_TIMEOUT_MS }));
  // The adapter subscribes without waiting; a subscription of ours, answered after its own on the
  // same connection, says the others' answers can reach this server.
  const probe = `cluster-join#${uid}`;
  await sub.subscribe(probe, () => {});
  await sub.unsubscribe(probe);

  let clock = 0;
  /** The switch this server follows: the newest it has made or heard of. */
  let wanted: { pair: string; stamp: Stamp } = { pair: models.summary.name, stamp: { seq: 0, node: uid } };
  let closed = false;
  /** Until then this server's pair is no one else's to follow (two servers starting at once would swap). */
  let joined = false;

  /** Switches here until the pair is the one wanted (which may change meanwhile); announces nothing. */
  const converge = async (): Promise<void> => {
    while (!closed && models.summary.name !== wanted.pair) await models.switchTo(wanted.pair, 'cluster');
  };

  // Answers to the other servers, from now on: none of their announcements is missed while joining.
  io.on(EVENTS.activePair, (ack: unknown) => {
    if (typeof ack === 'function') ack({ node: node(), pair: wanted.pair, stamp: wanted.stamp, joined });
  });

  io.on(EVENTS.hasPair, (name: unknown, ack: unknown) => {
    if (typeof ack !== 'function' || typeof name !== 'string') return;
    existingPair(name).then(() => ack({ node: node(), has: true }), () => ack({ node: node(), has: false }));
  });

  io.on(EVENTS.switched, (announced: unknown, ack: unknown) => {
    const reply = (answer: { ok: boolean; error?: string }) => typeof ack === 'function' && ack({ node: node(), ...answer });
    const switched = switchedSchema.safeParse(announced);
    if (!switched.success) return reply({ ok: false, error: 'malformed switch announcement' });
    const { pair, stamp } = switched.data;
    clock = Math.max(clock, stamp.seq);
    // An older announcement than the switch this server follows is overtaken: nothing to do.
    if (!newer(stamp, wanted.stamp)) return reply({ ok: true });
    wanted = { pair, stamp };
    converge().then(() => reply({ ok: true }), (error: unknown) => {
      console.error(`cluster: could not switch to pair "${pair}" announced by another server: ${(error as Error).message}`);
      reply({ ok: false, error: (error as Error).message });
    });
  });

  // A server that joins shows what the others show.
  const { replies, complete } = await askOthers(io, EVENTS.activePair);
  const others = parsed(activeReplySchema, replies, EVENTS.activePair).filter((reply) => reply.joined);
  if (!complete) console.warn(`cluster: not every server said which pair it shows within ${CLUSTER_TIMEOUT_MS / 1000} s; following those that did`);
  const newest = others.reduce<(typeof others)[number] | undefined>((best, reply) => (!best || newer(reply.stamp, best.stamp) ? reply : best), undefined);
  if (newest) {
    clock = Math.max(...others.map((reply) => reply.stamp.seq));
    wanted = { pair: newest.pair, stamp: newest.stamp };
    try {
      await converge();
    } catch (error) {
      await Promise.allSettled([pub.quit(), sub.quit()]);
      throw new Error(`the other servers show pair "${newest.pair}" (node ${newest.node}), which this server cannot load: ${(error as Error).message}. Copy the pair into MODELS_DIR before starting this server`);
    }
  }

  joined = true;

  // Asked here: every other server must have the pair.
  models.beforeSwitch(async (name) => {
    if (closed) return;
    if (!pub.isReady) throw new ConflictError(`pair "${name}" not switched: this server has lost Redis at ${redis}, so it cannot ask the other servers whether they have it`);
    const asked = await askOthers(io, EVENTS.hasPair, name);
    const answers = parsed(hasPairReplySchema, asked.replies, EVENTS.hasPair);
    const lacking = answers.filter((answer) => !answer.has).map((answer) => `node ${answer.node} has no model pair named "${name}"`);
    if (lacking.length > 0) throw new ConflictError(`pair "${name}" is not on every server: ${lacking.join('; ')}`);
    if (!asked.complete) {
      const answered = answers.map((answer) => answer.node).join(', ') || 'none';
      throw new ConflictError(`pair "${name}" not switched: not every server answered within ${CLUSTER_TIMEOUT_MS / 1000} s (answered: ${answered}), and every server must confirm it has a pair before it goes live`);
    }
  });

  // Switched here: the others follow. A switch made because another server announced it is not announced again.
  models.onSwitch((pair, origin) => {
    if (origin !== 'here' || closed) return;
    clock += 1;
    wanted = { pair: pair.name, stamp: { seq: clock, node: uid } };
    void askOthers(io, EVENTS.switched, wanted).then(({ replies: answers, complete: all }) => {
      for (const answer of parsed(switchedReplySchema, answers, EVENTS.switched)) {
        if (!answer.ok) console.error(`cluster: node ${answer.node} did not switch to pair "${pair.name}": ${answer.error}`);
      }
      if (!all) console.error(`cluster: not every server confirmed the switch to pair "${pair.name}" within ${CLUSTER_TIMEOUT_MS / 1000} s`);
    });
  });

  return {
    get health() {
      return { node: node(), redis };
    },
    async close() {
      closed = true;
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}
