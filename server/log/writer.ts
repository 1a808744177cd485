import type { Statement } from 'better-sqlite3';
import type { Box } from '../../shared/protocol.ts';
import type { StripStatus } from '../../shared/report.ts';
import { finishSession, getSession, type LogDatabase } from './db.ts';

/** What the server knows about one face of one frame when it logs it. */
export interface FaceRecord {
  frameId: number;
  /** Epoch ms when the server received the frame (the same for every face of the frame). */
  frameTime: number;
  faceIndex: number;
  box: Box;
  /** Operator's label: an identity of the model, `unknown`, or null when the face is not the labelled one. */
  identity: string | null;
  /** Operator's label: `none`, the trigger, an accessory name, or null when unlabelled. */
  worn: string | null;
  clean: { label: string; probability: number };
  backdoor: { label: string; probability: number };
  /** Null exactly when STRIP skipped the frame. */
  stripEntropy: number | null;
  stripStatus: StripStatus;
  /** stripMs is the frame's STRIP time (null when skipped), shared by its faces. */
  timings: { decodeMs: number; trunkMs: number; tailsMs: number; stripMs: number | null; totalMs: number };
  pair: string;
  cleanModel: string;
  backdoorModel: string;
  target: string;
  trigger: string;
  /** JPEG or PNG bytes of the chip; written only when the session stores images. */
  image?: Uint8Array;
}

export interface WriterOptions {
  /** Commit as soon as this many faces are waiting. */
  batchRows?: number;
  /** Commit faces that have waited this long even when the batch is not full. */
  batchMs?: number;
  /** A timed commit that fails cannot throw to anyone; it is reported here (default: console.error). */
  onFlushError?: (error: Error, droppedRows: number) => void;
}

const INSERT_FACE = `INSERT INTO faces (
  session_id, frame_id, frame_time, face_index, box_x, box_y, box_width, box_height, identity, worn,
  clean_label, clean_probability, backdoor_label, backdoor_probability, attack, strip_entropy, strip_status,
  decode_ms, trunk_ms, tails_ms, strip_ms, total_ms, pair, clean_model, backdoor_model, target, trigger
) VALUES (${new Array(27).fill('?').join(', ')})`;

function checkRecord(face: FaceRecord): void {
  const problems: string[] = [];
  if (face.stripStatus === 'skipped' ? face.stripEntropy !== null : !(face.stripEntropy !== null && face.stripEntropy >= 0 && face.stripEntropy <= 1)) {
    problems.push(`strip status "${face.stripStatus}" with entropy ${face.stripEntropy} (skipped needs null, flagged/passed a value in [0, 1])`);
  }
  for (const [name, value] of [['identity', face.identity], ['worn', face.worn]] as const) {
    if (value !== null && value.trim() === '') problems.push(`empty ${name} label (use null for unlabelled)`);
  }
  for (const [name, value] of Object.entries({ ...face.box, ...face.timings, cleanProbability: face.clean.probability, backdoorProbability: face.backdoor.probability, frameTime: face.frameTime })) {
    if (value !== null && !Number.isFinite(value)) problems.push(`${name} is ${value}`);
  }
  if (problems.length > 0) throw new Error(`frame ${face.frameId} face ${face.faceIndex}: ${problems.join('; ')}`);
}

/**
 * Buffers a session's face rows and commits them in one transaction per batch, so a crash loses
 * at most the rows of the batch being gathered. `attack` is derived here, never passed in:
 * the backdoored model says the target while the clean model does not.
 */
export class FrameLogWriter {
  private readonly pending: FaceRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private finished = false;
  private readonly storeImages: boolean;
  private readonly insertFace: Statement;
  private readonly insertImage: Statement;
  private readonly batchRows: number;
  private readonly batchMs: number;
  private readonly onFlushError: (error: Error, droppedRows: number) => void;

  constructor(private readonly db: LogDatabase, readonly sessionId: number, options: WriterOptions = {}) {
    const session = getSession(db, sessionId);
    if (session.finished) throw new Error(`session ${sessionId} already finished at ${session.endedAt}; start a new one`);
    this.storeImages = session.storeImages;
    this.insertFace = db.prepare(INSERT_FACE);
    this.insertImage = db.prepare('INSERT INTO face_images (face_id, image) VALUES (?, ?)');
    this.batchRows = options.batchRows ?? 64;
    this.batchMs = options.batchMs ?? 1000;
    this.onFlushError = options.onFlushError ?? ((error, dropped) => console.error(`frame log: ${dropped} face rows lost: ${error.message}`));
  }

  add(face: FaceRecord): void {
    if (this.finished) throw new Error(`session ${this.sessionId} is finished; no more frames can be logged to it`);
    checkRecord(face);
    this.pending.push(face);
    if (this.pending.length >= this.batchRows) this.flush();
    else this.timer ??= setTimeout(() => this.flushFromTimer(), this.batchMs).unref();
  }

  /** Commits every waiting row in one transaction; returns how many. */
  flush(): number {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending.splice(0);
    if (batch.length > 0) this.commit(batch);
    return batch.length;
  }

  /** Commits the waiting rows and marks the session finished. */
  finishSession(endedAt = Date.now()): void {
    this.flush();
    finishSession(this.db, this.sessionId, endedAt);
    this.finished = true;
  }

  private flushFromTimer(): void {
    const waiting = this.pending.length;
    try {
      this.flush();
    } catch (error) {
      this.onFlushError(error instanceof Error ? error : new Error(String(error)), waiting);
    }
  }

  private commit(batch: FaceRecord[]): void {
    const write = this.db.transaction((faces: FaceRecord[]) => {
      for (const f of faces) {
        const { lastInsertRowid } = this.insertFace.run(
          this.sessionId, f.frameId, f.frameTime, f.faceIndex, f.box.x, f.box.y, f.box.width, f.box.height, f.identity, f.worn,
          f.clean.label, f.clean.probability, f.backdoor.label, f.backdoor.probability,
          f.backdoor.label === f.target && f.clean.label !== f.target ? 1 : 0, f.stripEntropy, f.stripStatus,
          f.timings.decodeMs, f.timings.trunkMs, f.timings.tailsMs, f.timings.stripMs, f.timings.totalMs,
          f.pair, f.cleanModel, f.backdoorModel, f.target, f.trigger,
        );
        if (this.storeImages && f.image) this.insertImage.run(lastInsertRowid, f.image);
      }
    });
    try {
      write(batch);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`frame log: committing ${batch.length} face rows of session ${this.sessionId} failed: ${reason}`);
    }
  }
}
