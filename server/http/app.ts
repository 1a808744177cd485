import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express from 'express';
import { CLIENT_DIST_DIR, FACE_MODEL_DIR, FACE_MODEL_FILE, TASKS_VISION_WASM_DIR } from '../../scripts/assets.ts';
import { MEDIAPIPE_PATHS, type HealthReply } from '../../shared/protocol.ts';
import { UnknownSessionError, type LogDatabase } from '../log/db.ts';
import { sessionFaces, sessionFacesCsv, sessionFacesJsonl, type LoggedFace } from '../log/export.ts';
import { logReport, sessionReport } from '../log/reports.ts';
import type { LiveStrip } from '../defense/liveStrip.ts';
import type { ActivePair } from '../ml/activePair.ts';
import type { InferencePool } from '../ml/inferencePool.ts';
import type { TrainingJobs } from '../train/jobs.ts';
import { datasetRoutes } from './datasetRoutes.ts';
import { answerErrors } from './errors.ts';
import { modelRoutes } from './modelRoutes.ts';
import { trainingRoutes } from './trainingRoutes.ts';

export interface AppContext {
  models: ActivePair;
  pool: InferencePool;
  strip: LiveStrip;
  jobs: TrainingJobs;
  startedAt: number;
  /** The frame log: the live writer's connection for reports; exports open their own. */
  log: { db: LogDatabase; file: string };
  /** With REDIS_URL: what /api/health says of the cluster. */
  cluster?: () => HealthReply['cluster'];
}

const EXPORTS: Record<string, { type: string; chunks: (faces: Iterable<LoggedFace>) => Iterable<string> }> = {
  csv: { type: 'text/csv; charset=utf-8', chunks: sessionFacesCsv },
  jsonl: { type: 'application/jsonl; charset=utf-8', chunks: sessionFacesJsonl },
};

/** A session id from the URL, or a 404 naming what was asked for. */
function sessionIdOf(req: express.Request, res: express.Response): number | undefined {
  const id = Number(req.params.id);
  if (Number.isSafeInteger(id) && id > 0) return id;
  res.status(404).json({ error: `no session with id "${req.params.id}": session ids are positive whole numbers` });
  return undefined;
}

function unknownSession(res: express.Response, error: unknown): boolean {
  if (!(error instanceof UnknownSessionError)) return false;
  res.status(404).json({ error: error.message });
  return true;
}

/** The page, the MediaPipe files it needs, and the JSON API. */
export function createApp({ models, pool, strip, jobs, startedAt, log, cluster }: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.get('/api/health', (_req, res) => {
    const inference = pool.stats();
    const reply: HealthReply = {
      status: 'ok',
      backend: pool.backend.name,
      device: pool.backend.device,
      gpu: pool.backend.gpu,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      activePair: models.summary.name,
      models: [models.cards.clean, models.cards.backdoor],
      inference: { ...inference, meanBatch: inference.batches > 0 ? inference.chips / inference.batches : 0 },
      strip: strip.stats(),
      ...(cluster && { cluster: cluster() }),
    };
    res.json(reply);
  });

  // Express 5 passes a rejected handler to the error middleware (answerErrors).
  app.use(datasetRoutes(models), trainingRoutes(jobs), modelRoutes(models, jobs));

  /** Every session with its counts, and each model pair's figures over all sessions. */
  app.get('/api/sessions', (_req, res) => {
    res.json(logReport(log.db));
  });

  app.get('/api/sessions/:id', (req, res) => {
    const id = sessionIdOf(req, res);
    if (id === undefined) return;
    try {
      res.json(sessionReport(log.db, id));
    } catch (error) {
      if (!unknownSession(res, error)) throw error;
    }
  });

  /** One row per logged face, streamed from the log (never the face images). */
  app.get('/api/sessions/:id/frames.:format', async (req, res) => {
    const format = EXPORTS[String(req.params.format)];
    if (!format) return res.status(404).json({ error: `no export format "${req.params.format}" (csv or jsonl)` });
    const id = sessionIdOf(req, res);
    if (id === undefined) return;
    let faces: Generator<LoggedFace>;
    try {
      faces = sessionFaces(log.file, id);
    } catch (error) {
      if (unknownSession(res, error)) return;
      throw error;
    }
    res.type(format.type).attachment(`session-${id}-frames.${req.params.format}`);
    await pipeline(Readable.from(format.chunks(faces)), res);
  });

  app.use(MEDIAPIPE_PATHS.wasm, express.static(TASKS_VISION_WASM_DIR, { fallthrough: false }));
  app.get(MEDIAPIPE_PATHS.faceModel, (_req, res) => res.sendFile(path.join(FACE_MODEL_DIR, FACE_MODEL_FILE)));
  app.use(express.static(CLIENT_DIST_DIR));
  app.use(answerErrors);
  return app;
}
