import type { FaceKeypoints } from '../../../../shared/alignment.ts';
import { CLEAN } from '../../../../shared/names.ts';
import { faceCountRule, judgeChip, SKIP_REASON_TEXT, type GreyImage } from '../captureFilter.ts';
import { drawChip, encodeChip, greyOfChip } from '../chip.ts';
import type { DetectedFace } from '../detector.ts';
import { ANSWER_TIMEOUT_MS, type LiveSocket } from '../stream.ts';

/**
 * - idle: nothing captured yet;
 * - capturing: a chip of the one face in view is taken at the chosen rate;
 * - paused: more than one face in view, capture waits until one is left;
 * - done: the chosen number of chips was kept;
 * - stopped: the presenter stopped, or the server stopped answering.
 */
export type CaptureState = 'idle' | 'capturing' | 'paused' | 'done' | 'stopped';

/** A chip cut from the frame: its grey pixels to judge it, and its JPEG once it is kept. */
export interface CapturedChip {
  grey: GreyImage;
  encode(): Promise<Uint8Array<ArrayBuffer>>;
}

export type ChipCutter = (frame: CanvasImageSource, keypoints: FaceKeypoints) => CapturedChip;

export function cutCapturedChip(frame: CanvasImageSource, keypoints: FaceKeypoints): CapturedChip {
  const canvas = drawChip(frame, keypoints);
  return { grey: greyOfChip(canvas), encode: () => encodeChip(canvas) };
}

/** What one capture run stores, fixed when it starts. */
export interface CaptureRun {
  dataset: string;
  identity: string;
  condition: string;
  count: number;
  ratePerSecond: number;
}

/** The thumbnail strip shows this many of the latest kept chips. */
const THUMBNAILS = 24;

/** The Enroll page's capture: its settings, and the run in progress as a state machine fed with detected faces. */
export class EnrollmentStore {
  dataset = $state('');
  identity = $state('');
  condition = $state(CLEAN);
  count = $state(30);
  ratePerSecond = $state(3);

  state = $state<CaptureState>('idle');
  run = $state.raw<CaptureRun>();
  facesInView = $state(0);
  kept = $state(0);
  /** Chips not kept this run, by reason: the page's own checks and the server's refusals. */
  skipped = $state.raw<Record<string, number>>({});
  /** Object URLs of the latest kept chips, oldest first. */
  thumbnails = $state.raw<string[]>([]);
  error = $state<string>();
  #socket: LiveSocket;
  #cut: ChipCutter;
  #lastAttemptMs = -Infinity;
  #lastKept: GreyImage | undefined;
  #sending = false;

  constructor(socket: LiveSocket, cut: ChipCutter = cutCapturedChip) {
    this.#socket = socket;
    this.#cut = cut;
  }

  get active(): boolean {
    return this.state === 'capturing' || this.state === 'paused';
  }

  /** Starts a run with the current settings. */
  start(): void {
    for (const url of this.thumbnails) URL.revokeObjectURL(url);
    this.run = { dataset: this.dataset, identity: this.identity, condition: this.condition, count: this.count, ratePerSecond: this.ratePerSecond };
    this.kept = 0;
    this.skipped = {};
    this.thumbnails = [];
    this.error = undefined;
    this.#lastAttemptMs = -Infinity;
    this.#lastKept = undefined;
    this.state = 'capturing';
  }

  stop(): void {
    if (this.active) this.state = 'stopped';
  }

  /** The faces detected in a new frame of `frame`, seen at `nowMs`. */
  frame(faces: DetectedFace[], frame: CanvasImageSource, nowMs: number): void {
    this.facesInView = faces.length;
    const run = this.run;
    if (!this.active || !run) return;
    const count = faceCountRule(faces.length);
    this.state = count === 'several' ? 'paused' : 'capturing';
    if (count !== 'one' || this.#sending || nowMs - this.#lastAttemptMs < 1000 / run.ratePerSecond) return;
    this.#lastAttemptMs = nowMs;
    const { keypoints } = faces[0];
    let chip: CapturedChip;
    try {
      chip = this.#cut(frame, keypoints);
    } catch (error) {
      this.#fail(`could not cut the face chip: ${(error as Error).message}`);
      return;
    }
    const verdict = judgeChip(chip.grey, keypoints, this.#lastKept);
    if (!verdict.kept) return this.#skip(SKIP_REASON_TEXT[verdict.reason]);
    this.#lastKept = chip.grey;
    void this.#send(chip, run);
  }

  async #send(chip: CapturedChip, run: CaptureRun): Promise<void> {
    this.#sending = true;
    try {
      const bytes = await chip.encode();
      const reply = await this.#socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck('enrollChip', { dataset: run.dataset, identity: run.identity, condition: run.condition, chip: bytes });
      // A chip of an earlier run is in that run's folder, and not counted in this one.
      if (run !== this.run) return;
      if (!reply.kept) return this.#skip(reply.reason);
      this.kept++;
      const thumbnails = [...this.thumbnails, URL.createObjectURL(new Blob([bytes], { type: 'image/jpeg' }))];
      for (const old of thumbnails.splice(0, thumbnails.length - THUMBNAILS)) URL.revokeObjectURL(old);
      this.thumbnails = thumbnails;
      if (this.kept >= run.count && this.active) this.state = 'done';
    } catch (error) {
      if (run === this.run) this.#fail(`the server did not store the chip (${(error as Error).message})`);
    } finally {
      this.#sending = false;
    }
  }

  #skip(reason: string): void {
    this.skipped = { ...this.skipped, [reason]: (this.skipped[reason] ?? 0) + 1 };
  }

  #fail(message: string): void {
    this.error = `${message}: capture stopped`;
    this.state = 'stopped';
  }
}
