import { z } from 'zod';
import type { EnrollChip, JobStatus, PhotoReply } from './api.ts';
import type { Rate } from './metrics.ts';

/**
 * The Socket.IO protocol between the live page and the server, declared once for both sides.
 * Chips travel as binary JPEG (no base64); the client keeps at most one frame in flight.
 */
export const MAX_FACES_PER_FRAME = 8;
/** A 150x150 JPEG at quality 0.9 is 6-12 KB; 64 KB leaves room for detailed faces. */
export const MAX_CHIP_BYTES = 64 * 1024;
/** What the server's Socket.IO `maxHttpBufferSize` is set to: a full frame plus framing. */
export const MAX_FRAME_BYTES = MAX_FACES_PER_FRAME * MAX_CHIP_BYTES + 16 * 1024;

export const boxSchema = z.object({
  x: z.number().finite(),
  y: z.number().finite(),
  width: z.number().positive().finite(),
  height: z.number().positive().finite(),
});
export type Box = z.infer<typeof boxSchema>;

const chipBytes = z.custom<Uint8Array>(
  (value) => value instanceof Uint8Array || value instanceof ArrayBuffer,
  'chip must be binary JPEG data',
).transform((value) => (value instanceof ArrayBuffer ? new Uint8Array(value) : value))
  .refine((bytes) => bytes.byteLength > 0 && bytes.byteLength <= MAX_CHIP_BYTES, `chip must be 1..${MAX_CHIP_BYTES} bytes`);

export const framePayloadSchema = z.object({
  frameId: z.number().int().nonnegative(),
  /** Client clock (ms) when the video frame was captured, echoed back for round-trip latency. */
  capturedAt: z.number().finite(),
  faces: z.array(z.object({ box: boxSchema, chip: chipBytes })).max(MAX_FACES_PER_FRAME, `at most ${MAX_FACES_PER_FRAME} faces per frame`),
});
export type FramePayload = z.input<typeof framePayloadSchema>;
export type ParsedFrame = z.output<typeof framePayloadSchema>;

export interface LabelProbability { label: string; probability: number }

export interface Prediction {
  /** An identity of the model, or UNKNOWN when the top probability is below the model's threshold. */
  label: string;
  confidence: number;
  top: LabelProbability[];
}

export interface FacePrediction {
  box: Box;
  clean: Prediction;
  backdoor: Prediction;
  /** The backdoored model says the target while the clean model does not. */
  attack: boolean;
}

export interface StageTimings {
  decodeMs: number;
  /** Time in the queue for a free inference worker. */
  queueMs: number;
  trunkMs: number;
  tailsMs: number;
  totalMs: number;
  /** Chips in the trunk call this frame shared with other clients' frames. */
  batch: number;
}

export type FrameReply =
  | { ok: true; frameId: number; capturedAt: number; pair: string; faces: FacePrediction[]; timings: StageTimings }
  | { ok: false; frameId: number; error: string };

export interface PairSummary {
  name: string;
  labels: string[];
  trigger: string;
  target: string;
  injectionRate: number;
  tune: string;
}

export type SelectPairReply = { ok: true; pair: PairSummary } | { ok: false; error: string };

/** GET /api/models */
export interface ModelsReply {
  active: string;
  pairs: PairSummary[];
}

/** GET /api/health */
export interface HealthReply {
  status: 'ok';
  /** The tfjs backend the inference workers compute on: tensorflow-gpu, webgpu, tensorflow, wasm or cpu (as TFJS_BACKEND names them). */
  backend: string;
  /** What it runs on: the WebGPU adapter (vendor, device, driver), or where the computation happens. */
  device: string;
  /** Whether that is a GPU (a software WebGPU adapter is not). */
  gpu: boolean;
  uptimeSeconds: number;
  activePair: string;
  /** The cards of the loaded models: the active pair's clean and backdoored model. */
  models: unknown[];
  /** With REDIS_URL: this server (host:port) and the Redis the servers share (host:port). */
  cluster?: { node: string; redis: string };
  inference: InferenceHealth;
  strip: StripHealth;
}

/** The inference pool since the server started. */
export interface InferenceHealth {
  workers: number;
  /** Trunk calls made for classification, the chips they held, and chips per call. */
  batches: number;
  chips: number;
  meanBatch: number;
  /** STRIP blends computed (each one trunk pass of one chip). */
  stripBlends: number;
  /** Worker milliseconds spent on classification and on STRIP. */
  classifyMs: number;
  stripMs: number;
  /** Live tensors on each worker after its last request: constant once warmed up (growth is a leak). */
  tensors: number[];
}

/** STRIP on live faces: what share of the faces it measured, and how many per second spare compute sustains. */
export interface StripHealth {
  coverage: Rate;
  facesPerSecond: number;
}

/** Where the page loads MediaPipe from: the server serves these, nothing comes from a CDN. */
export const MEDIAPIPE_PATHS = {
  wasm: '/mediapipe/wasm',
  faceModel: '/mediapipe/face_detection_short_range.tflite',
} as const;

/**
 * Back-pressure by acknowledgement, used on both ends: one item is worked on at a time and at
 * most one waits; a newer item replaces the waiting one (latest frame wins), which is handed to
 * `drop`. `work` must settle and handle its own errors.
 */
export class LatestWins<T> {
  #busy = false;
  #waiting: { item: T } | undefined;

  constructor(
    private readonly work: (item: T) => Promise<void>,
    private readonly drop: (item: T) => void = () => {},
  ) {}

  get busy(): boolean {
    return this.#busy;
  }

  offer(item: T): void {
    if (!this.#busy) {
      void this.#drain(item);
      return;
    }
    if (this.#waiting) this.drop(this.#waiting.item);
    this.#waiting = { item };
  }

  async #drain(first: T): Promise<void> {
    this.#busy = true;
    try {
      for (let next: { item: T } | undefined = { item: first }; next; next = this.#waiting) {
        this.#waiting = undefined;
        await this.work(next.item);
      }
    } finally {
      this.#busy = false;
    }
  }
}

/**
 * STRIP's outcome for one answered frame, sent once it settles (after the frame's verdicts).
 * `skipped`: STRIP was busy with an earlier frame, or could not run for this model.
 */
export type StripReply =
  | { frameId: number; status: 'ran'; ms: number; faces: { entropy: number; flagged: boolean }[] }
  | { frameId: number; status: 'skipped' };

/**
 * The presenter's ground truth for the selected face: an identity of the model or `unknown`, and
 * what the person wears (`none`, the trigger, or an accessory's name); null clears a label.
 */
export const groundTruthSchema = z.object({
  identity: z.string().trim().min(1).max(64).nullable(),
  worn: z.string().trim().min(1).max(64).nullable(),
});
export type GroundTruth = z.infer<typeof groundTruthSchema>;

/** The face the labels belong to, by its box in the latest frame; null goes back to the largest face. */
export const selectFaceSchema = boxSchema.nullable();

export const startSessionSchema = z.object({
  /** Face chips are stored in the log only when the presenter switches this on. */
  storeImages: z.boolean().default(false),
  notes: z.string().max(500).optional(),
});
export type StartSessionRequest = z.input<typeof startSessionSchema>;

/** The connection's logging session and its live counters, recomputed from the log. */
export interface SessionStatus {
  id: number;
  storeImages: boolean;
  framesLogged: number;
  /** Over logged faces wearing the trigger whose true identity is not the target. */
  attackSuccess: Rate;
  /** This session's faces STRIP measured, and the server's STRIP rate (faces/s). */
  strip: StripHealth;
}

export type CommandReply = { ok: true } | { ok: false; error: string };

export interface ClientToServerEvents {
  frame: (payload: FramePayload, ack: (reply: FrameReply) => void) => void;
  selectPair: (name: string, ack: (reply: SelectPairReply) => void) => void;
  setGroundTruth: (labels: GroundTruth, ack: (reply: CommandReply) => void) => void;
  selectFace: (box: Box | null, ack: (reply: CommandReply) => void) => void;
  /** Finishes the connection's session and starts a new one (one starts on connect anyway). */
  startSession: (request: StartSessionRequest, ack: (reply: CommandReply) => void) => void;
  /** The Enroll page's capture: stores one aligned chip in a dataset (consent must be recorded first). */
  enrollChip: (chip: EnrollChip, ack: (reply: PhotoReply) => void) => void;
}

export interface ServerToClientEvents {
  /** Sent on connect and whenever the presenter switches the active pair. */
  activePair: (pair: PairSummary) => void;
  strip: (reply: StripReply) => void;
  /** Sent when a session starts and, at most once a second, as frames are logged. */
  session: (status: SessionStatus) => void;
  /** Sent to every page whenever a training job changes (queued, progress, finished). */
  job: (status: JobStatus) => void;
}
