import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { defaultLogFile, openLog } from './log/db.ts';
import { initBackend } from './ml/backend.ts';
import { createApp } from './http/app.ts';
import type { ListenConfig } from './http/listen.ts';
import { ActivePair } from './ml/activePair.ts';
import { attachLiveSocket } from './socket/index.ts';
import { TrainingJobs } from './train/jobs.ts';

export interface RunningServer {
  url: string;
  backend: string;
  close(): Promise<void>;
}

/**
 * Serves the live demonstrator with `pair` active, logging every answered face to `logFile`; the
 * client bundle and face model must be built.
 */
export async function startServer(config: ListenConfig, pair: string, logFile = defaultLogFile()): Promise<RunningServer> {
  const backend = await initBackend();
  const models = await ActivePair.load(pair);
  const log = openLog(logFile);
  const jobs = await TrainingJobs.open();
  const app = createApp({ models, jobs, backend, startedAt: Date.now(), log: { db: log, file: logFile } });
  const server = config.tls
    ? https.createServer({ cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }, app)
    : http.createServer(app);
  const live = attachLiveSocket(server, models, log, jobs);

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
      await models.dispose();
      log.close();
    },
  };
}
