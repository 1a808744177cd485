import type {
  ArchiveReply,
  Consent,
  DatasetDetail,
  DatasetSummary,
  DeletedPair,
  ForgetReply,
  FpStudyRequestInput,
  IdentitySummary,
  InjectReply,
  InjectRequest,
  JobStatus,
  PairCards,
  PhotoReply,
  SplitPreview,
  TrainedBundles,
  TrainReply,
  TrainRequestInput,
  TriggersReply,
} from '../../../shared/api.ts';
import type { HealthReply, ModelsReply, PairSummary } from '../../../shared/protocol.ts';
import type { LogReport, SessionReport } from '../../../shared/report.ts';

/**
 * The page's one REST client (README, "HTTP API"): a typed function per endpoint. Every failure,
 * an error reply or an unreachable server, is thrown as an ApiError carrying the server's message.
 */

export class ApiError extends Error {
  constructor(
    /** The HTTP status; 0 when no answer came. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const segment = encodeURIComponent;
const datasetPath = (dataset: string) => `/api/datasets/${segment(dataset)}`;
const identityPath = (dataset: string, identity: string) => `${datasetPath(dataset)}/identities/${segment(identity)}`;
const pairPath = (pair: string) => `/api/models/${segment(pair)}`;
/** Browsers type a .zip as application/zip, application/x-zip-compressed or nothing; the server takes the first. */
const asZip = (file: Blob) => new Blob([file], { type: 'application/zip' });

interface Call {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is, with its own type (a photo, a zip). */
  file?: Blob;
  /** Statuses besides 2xx whose body is an answer rather than an error. */
  answers?: number[];
}

async function call<T>(url: string, { method = 'GET', json, file, answers = [] }: Call = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: json !== undefined ? { 'Content-Type': 'application/json' } : file ? { 'Content-Type': file.type || 'application/octet-stream' } : undefined,
      body: json !== undefined ? JSON.stringify(json) : file,
    });
  } catch (error) {
    throw new ApiError(0, `the server cannot be reached (${(error as Error).message})`);
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok || answers.includes(response.status)) {
    if (body === undefined) throw new ApiError(response.status, `${method} ${url}: the server's answer is not JSON`);
    return body as T;
  }
  const message = (body as { error?: unknown } | undefined)?.error;
  throw new ApiError(response.status, typeof message === 'string' ? message : `${method} ${url}: HTTP ${response.status} ${response.statusText}`.trim());
}

export const getHealth = () => call<HealthReply>('/api/health');

/** Every logged session, and each model pair's figures over all of them. */
export const getLogReport = () => call<LogReport>('/api/sessions');

export const getSessionReport = (id: number) => call<SessionReport>(`/api/sessions/${id}`);

export const listDatasets = () => call<DatasetSummary[]>('/api/datasets');

export const getDataset = (dataset: string) => call<DatasetDetail>(datasetPath(dataset));

/** Records who agreed to be photographed; creates the dataset and the identity when new. */
export const recordConsent = (dataset: string, identity: string, consent: Consent) =>
  call<IdentitySummary>(`${identityPath(dataset, identity)}/consent`, { method: 'PUT', json: consent });

/** One JPEG or PNG photo of the identity; a photo the server skips answers `{ kept: false, reason }`. */
export function uploadPhoto(dataset: string, identity: string, condition: string, photo: Blob): Promise<PhotoReply> {
  const query = new URLSearchParams({ identity, condition });
  return call<PhotoReply>(`${datasetPath(dataset)}/photos?${query}`, { method: 'POST', file: photo, answers: [422] });
}

/** A zip of `<identity>/<condition>/<image>` folders. */
export const uploadArchive = (dataset: string, zip: Blob) =>
  call<ArchiveReply>(`${datasetPath(dataset)}/archive`, { method: 'POST', file: asZip(zip) });

/** Pastes a digital trigger on the identities' clean chips, into a condition folder of its own. */
export const injectTrigger = (dataset: string, request: InjectRequest) => call<InjectReply>(`${datasetPath(dataset)}/inject`, { method: 'POST', json: request });

/** The model bundles trained on the identity, which deleting them deletes too. */
export const identityBundles = (dataset: string, identity: string) =>
  call<TrainedBundles>(`${identityPath(dataset, identity)}/bundles`).then((reply) => reply.bundles);

export const deleteIdentity = (dataset: string, identity: string) => call<ForgetReply>(identityPath(dataset, identity), { method: 'DELETE' });

export const datasetExportUrl = (dataset: string) => `${datasetPath(dataset)}/export.zip`;

/** The trigger catalogue: the paper's six triggers and their lookalikes. */
export const listTriggers = () => call<TriggersReply>('/api/triggers').then((reply) => reply.triggers);

/** The split a training with this request would use, without training. */
export const previewSplit = (request: TrainRequestInput) => call<SplitPreview>('/api/train/preview', { method: 'POST', json: request });

export const startTraining = (request: TrainRequestInput) => call<TrainReply>('/api/train', { method: 'POST', json: request });
export const startFpStudy = (request: FpStudyRequestInput) => call<TrainReply>('/api/experiments/fp-study', { method: 'POST', json: request });

export const listJobs = () => call<JobStatus[]>('/api/jobs');

export const getJob = (id: string) => call<JobStatus>(`/api/jobs/${segment(id)}`);

export const cancelJob = (id: string) => call<JobStatus>(`/api/jobs/${segment(id)}`, { method: 'DELETE' });

export const listModels = () => call<ModelsReply>('/api/models');

export const getPairCards = (pair: string) => call<PairCards>(pairPath(pair));

/** Makes the pair the one the live page runs. */
export const activatePair = (pair: string) => call<PairSummary>(`${pairPath(pair)}/activate`, { method: 'POST' });

export const deletePair = (pair: string) => call<DeletedPair>(pairPath(pair), { method: 'DELETE' });

export const pairDownloadUrl = (pair: string) => `${pairPath(pair)}/download`;

/** A pair zip as the download gives it. */
export const uploadPair = (zip: Blob) =>
  call<PairSummary>('/api/models/upload', { method: 'POST', file: asZip(zip) });
