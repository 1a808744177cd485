import express from 'express';
import { fpStudyRequestSchema, trainRequestSchema, type TrainReply } from '../../shared/api.ts';
import { parseRequest } from '../errors.ts';
import { previewTraining, type TrainingJobs } from '../train/jobs.ts';

/** Training and studies as background jobs: preview a split, start, follow and cancel a job. */
export function trainingRoutes(jobs: TrainingJobs): express.Router {
  const router = express.Router();
  const json = express.json({ limit: '64kb' });

  router.post('/api/train/preview', json, async (req, res) => {
    res.json(await previewTraining(parseRequest(trainRequestSchema, req.body)));
  });

  router.post('/api/train', json, async (req, res) => {
    const job = await jobs.submit({ kind: 'train', request: parseRequest(trainRequestSchema, req.body) });
    res.status(202).json({ job: job.id } satisfies TrainReply);
  });

  router.post('/api/experiments/fp-study', json, async (req, res) => {
    const job = await jobs.submit({ kind: 'fp-study', request: parseRequest(fpStudyRequestSchema, req.body) });
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
