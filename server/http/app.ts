import path from 'node:path';
import express from 'express';
import { CLIENT_DIST_DIR, FACE_MODEL_DIR, FACE_MODEL_FILE, TASKS_VISION_WASM_DIR } from '../../scripts/assets.ts';
import { MEDIAPIPE_PATHS, type HealthReply, type ModelsReply } from '../../shared/protocol.ts';
import { pairSummaries, type ActivePair } from '../socket/activePair.ts';

export interface AppContext {
  models: ActivePair;
  backend: string;
  startedAt: number;
}

/** The page, the MediaPipe files it needs, and the JSON API. */
export function createApp({ models, backend, startedAt }: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/api/health', (_req, res) => {
    const reply: HealthReply = {
      status: 'ok',
      backend,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      activePair: models.summary.name,
      models: models.cards,
    };
    res.json(reply);
  });

  // Express 5 passes a rejected handler to the error middleware.
  app.get('/api/models', async (_req, res) => {
    const reply: ModelsReply = { active: models.summary.name, pairs: await pairSummaries() };
    res.json(reply);
  });

  app.use(MEDIAPIPE_PATHS.wasm, express.static(TASKS_VISION_WASM_DIR, { fallthrough: false }));
  app.get(MEDIAPIPE_PATHS.faceModel, (_req, res) => res.sendFile(path.join(FACE_MODEL_DIR, FACE_MODEL_FILE)));
  app.use(express.static(CLIENT_DIST_DIR));
  return app;
}
