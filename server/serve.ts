import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { defaultLogFile, openLog } from './log/db.ts';
import { initBackend, type BackendInfo } from './ml/backend.ts';
import { createApp } from './http/app.ts';
import type { ListenConfig } from './http/listen.ts';
import { ActivePair } from './ml/activePair.ts';
import { InferencePool } from './ml/inferencePool.ts';
import { LiveStrip } from './defense/liveStrip.ts';
import { inferencePoolSettings, setting } from './config.ts';
import { attachLiveSocket } from './socket/index.ts';
import { joinCluster, type Cluster } from './socket/cluster.ts';
import { TrainingJobs } from './train/jobs.ts';

export interface RunningServer {
  url: string;
  backend: BackendInfo;
  close(): Promise<void>;
}

/**
 * Serves the live demonstrator with `pair` active, logging every answered face to `logFile`; the
 * client bundle and face model must be built.
 */
export async function startServer(config: ListenConfig, pair: string, logFile = defaultLogFile()): Promise<RunningServer> {
  const backend = await initBackend();
  const pool = await InferencePool.start({ ...inferencePoolSettings(backend.gpu), backend: backend.name });
  const models = await ActivePair.load(pool, pair).catch(async (error: unknown) => {
    await pool.close();
    throw error;
  });
  const strip = new LiveStrip(pool);
  const log = openLog(logFile);
  const jobs = await TrainingJobs.open();
  let cluster: Cluster | undefined;
  const app = createApp({ models, pool, strip, jobs, startedAt: Date.now(), log: { db: log, file: logFile }, cluster: () => cluster?.health });
  const server = config.tls
    ? https.createServer({ cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }, app)
    : http.createServer(app);
  const live = attachLiveSocket(server, { models, strip, log, jobs });
  // Several servers behind a load balancer share the active pair through Redis (server/socket/cluster.ts).
  const redisUrl = setting('REDIS_URL');
  if (redisUrl) cluster = await joinCluster(live.io, models, redisUrl).catch(async (error: unknown) => {
    await live.close();
    throw error;
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
  return {
    url: `${config.tls ? 'https' : 'http'}://${host}:${port}`,
    backend,
    async close() {
      await jobs.close();
      await live.close();
      await cluster?.close();
      await pool.close();
      log.close();
    },
  };
}
