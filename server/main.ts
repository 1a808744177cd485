import { buildAssets } from '../scripts/prepare.ts';
import { checkSettings, modelsDir } from './config.ts';
import { listenConfig } from './http/listen.ts';
import { initBackend } from './ml/backend.ts';
import { listPairs } from './ml/pair.ts';
import { progressReporter } from './progress.ts';
import { startServer } from './serve.ts';
import { DEMO, ensureDemoPairs } from './train/demoPair.ts';

/**
 * `npm start`: builds whatever is missing (face model, page, and the embedded demo pair when
 * models/ has no pair) and serves the live demonstrator on HOST:PORT (127.0.0.1:3000 by default),
 * showing the demo pair, or the first pair there is without it.
 */
async function main(): Promise<void> {
  checkSettings();
  const config = listenConfig(process.env);
  await buildAssets({ force: false, log: console.log });

  const backend = await initBackend();
  console.log(`tensor backend: ${backend.name} (${backend.device})`);
  if ((await listPairs()).length === 0) {
    console.log(`first run: building the demo models in ${modelsDir()} from the sample photos of face-api (about two minutes)`);
    const progress = progressReporter();
    await ensureDemoPairs(progress.update);
    progress.stop();
  }
  const pairs = await listPairs();
  const server = await startServer(config, pairs.includes(DEMO.pair) ? DEMO.pair : pairs[0]);
  console.log(`live demonstrator at ${server.url}`);

  const shutdown = () => {
    console.log('shutting down');
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
