import express from 'express';
import type { TrainReply } from '../../shared/api.ts';
import { parseTrainRequest, previewTraining, type TrainingJobs } from '../train/jobs.ts';

/** Training as background jobs: preview a split, start, follow and cancel a job. */
export function trainingRoutes(jobs: TrainingJobs): express.Router {
  const router = express.Router();
  const json = express.json({ limit: '64kb' });

  router.post('/api/train/preview', json, async (req, res) => {
    res.json(await previewTraining(parseTrainRequest(req.body)));
  });

  router.post('/api/train', json, async (req, res) => {
    const job = await jobs.submit(parseTrainRequest(req.body));
    res.status(202).json({ job: job.id } satisfies TrainReply);
  });

  router.get('/api/jobs', (_req, res) => {
    res.json(jobs.list());
  });

  router.get('/api/jobs/:id', (req, res) => {
    res.json(jobs.get(req.params.id));
  });

  router.delete('/api/jobs/:id', async (req, res) => {
    res.json(await jobs.cancel(req.params.id));
  });
  return router;
}
