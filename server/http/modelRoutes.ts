import { rm } from 'node:fs/promises';
import express from 'express';
import type { ModelsReply } from '../../shared/protocol.ts';
import { ConflictError, InvalidRequestError } from '../errors.ts';
import { pairSummaries, type ActivePair } from '../ml/activePair.ts';
import { bundleDir, readCard } from '../ml/bundle.ts';
import { existingPair } from '../ml/pair.ts';
import { packPair, unpackPair } from '../ml/pairArchive.ts';
import type { TrainingJobs } from '../train/jobs.ts';
import { nameParam } from './errors.ts';

/** The model pairs under models/: their cards, which one is live, download, upload and delete. */
export function modelRoutes(models: ActivePair, jobs: TrainingJobs): express.Router {
  const router = express.Router();

  const pairOf = (req: express.Request): Promise<string> => existingPair(nameParam(req, 'pair', 'model'));

  router.get('/api/models', async (_req, res) => {
    res.json({ active: models.summary.name, pairs: await pairSummaries() } satisfies ModelsReply);
  });

  router.get('/api/models/:pair', async (req, res) => {
    const pair = await pairOf(req);
    res.json({ clean: await readCard(`${pair}-clean`), backdoor: await readCard(`${pair}-backdoor`) });
  });

  router.post('/api/models/:pair/activate', async (req, res) => {
    res.json(await models.switchTo(await pairOf(req)));
  });

  router.delete('/api/models/:pair', async (req, res) => {
    const pair = await pairOf(req);
    if (pair === models.summary.name) throw new ConflictError(`"${pair}" is the live pair: make another pair live before deleting it`);
    if (jobs.list().some((job) => job.state === 'running' && job.request.name === pair)) throw new ConflictError(`"${pair}" is being trained`);
    const deleted = [`${pair}-clean`, `${pair}-backdoor`];
    for (const bundle of deleted) await rm(bundleDir(bundle), { recursive: true, force: true });
    res.json({ deleted });
  });

  router.get('/api/models/:pair/download', async (req, res) => {
    const pair = await pairOf(req);
    res.type('application/zip').attachment(`${pair}.zip`).send(Buffer.from(await packPair(pair)));
  });

  router.post('/api/models/upload', express.raw({ type: 'application/zip', limit: '512mb' }), async (req, res) => {
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw new InvalidRequestError('send the pair as a zip file (Content-Type: application/zip)');
    const pair = await unpackPair(new Uint8Array(req.body));
    res.status(201).json((await pairSummaries()).find((summary) => summary.name === pair));
  });
  return router;
}
