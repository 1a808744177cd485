import path from 'node:path';
import express from 'express';
import { consentSchema, injectRequestSchema } from '../../shared/api.ts';
import { CLEAN } from '../../shared/names.ts';
import { datasetDir } from '../config.ts';
import { addPhoto, describeDataset, exportDatasetZip, importArchive, listDatasets, recordConsent } from '../data/enroll.ts';
import { bundlesTrainedOn, forgetIdentity } from '../data/forget.ts';
import { injectTrigger, TRIGGER_NAMES } from '../data/triggers/index.ts';
import { ConflictError, InvalidRequestError, parseRequest } from '../errors.ts';
import { exists } from '../files.ts';
import type { ActivePair } from '../ml/activePair.ts';
import { nameParam } from './errors.ts';

const PHOTO_TYPES = ['image/jpeg', 'image/png'];


/** Enrollment: datasets, consent, photos, pasted triggers, forgetting a person, export. */
export function datasetRoutes(models: ActivePair): express.Router {
  const router = express.Router();
  const json = express.json({ limit: '64kb' });

  router.get('/api/triggers', (_req, res) => {
    res.json({ triggers: TRIGGER_NAMES });
  });

  router.get('/api/datasets', async (_req, res) => {
    res.json(await listDatasets());
  });

  router.get('/api/datasets/:dataset', async (req, res) => {
    res.json(await describeDataset(nameParam(req, 'dataset')));
  });

  router.put('/api/datasets/:dataset/identities/:identity/consent', json, async (req, res) => {
    const dataset = nameParam(req, 'dataset');
    const identity = nameParam(req, 'identity');
    res.json(await recordConsent(dataset, identity, parseRequest(consentSchema, req.body)));
  });

  router.post('/api/datasets/:dataset/photos', express.raw({ type: () => true, limit: '20mb' }), async (req, res) => {
    const dataset = nameParam(req, 'dataset');
    const identity = nameParam(req, 'identity');
    const condition = nameParam(req, 'condition');
    if (!PHOTO_TYPES.includes(String(req.headers['content-type']).split(';')[0].trim())) {
      throw new InvalidRequestError(`send one JPEG or PNG photo as the body, with Content-Type image/jpeg or image/png (got ${req.headers['content-type'] ?? 'none'})`);
    }
    const reply = await addPhoto({ dataset, identity, condition, bytes: new Uint8Array(req.body as Buffer) });
    res.status(reply.kept ? 201 : 422).json(reply);
  });

  router.post('/api/datasets/:dataset/archive', express.raw({ type: 'application/zip', limit: '512mb' }), async (req, res) => {
    const dataset = nameParam(req, 'dataset');
    if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw new InvalidRequestError('send a zip of <identity>/<condition>/<image> photos (Content-Type: application/zip)');
    res.json(await importArchive(dataset, new Uint8Array(req.body)));
  });

  router.post('/api/datasets/:dataset/inject', json, async (req, res) => {
    const dataset = nameParam(req, 'dataset');
    const { trigger, identities, seed } = parseRequest(injectRequestSchema, req.body ?? {});
    if (!TRIGGER_NAMES.includes(trigger)) throw new InvalidRequestError(`trigger must be one of ${TRIGGER_NAMES.join(', ')}`);
    const root = datasetDir(dataset);
    const people = identities ?? (await describeDataset(dataset)).people.map((p) => p.name);
    for (const identity of people) {
      if (!(await exists(path.join(root, identity, CLEAN)))) throw new InvalidRequestError(`"${identity}" has no clean photos to paste the ${trigger} on`);
      if (await exists(path.join(root, identity, trigger))) throw new ConflictError(`"${identity}" already has "${trigger}" photos: delete them or capture another condition`);
    }
    const result = await injectTrigger({ root, trigger, identities: people, seed: seed ?? 1 });
    res.json({ written: result.written, condition: result.condition });
  });

  router.get('/api/datasets/:dataset/identities/:identity/bundles', async (req, res) => {
    res.json(await bundlesTrainedOn(nameParam(req, 'dataset'), nameParam(req, 'identity')));
  });

  router.delete('/api/datasets/:dataset/identities/:identity', async (req, res) => {
    const dataset = nameParam(req, 'dataset');
    const identity = nameParam(req, 'identity');
    const { bundles } = await bundlesTrainedOn(dataset, identity);
    const live = models.summary.name;
    if (bundles.includes(`${live}-clean`) || bundles.includes(`${live}-backdoor`)) {
      throw new ConflictError(`the live pair "${live}" was trained on "${identity}": make another pair live first, then delete`);
    }
    res.json(await forgetIdentity(dataset, identity));
  });

  router.get('/api/datasets/:dataset/export.zip', async (req, res) => {
    const dataset = nameParam(req, 'dataset');
    res.type('application/zip').attachment(`${dataset}.zip`).send(Buffer.from(await exportDatasetZip(dataset)));
  });
  return router;
}
