import type { Socket } from 'socket.io';
import { UNKNOWN } from '../../shared/names.ts';
import { rate } from '../../shared/metrics.ts';
import {
  groundTruthSchema,
  selectFaceSchema,
  startSessionSchema,
  type ClientToServerEvents,
  type CommandReply,
  type ServerToClientEvents,
  type SessionStatus,
  type StripReply,
} from '../../shared/protocol.ts';
import { stripStatus } from '../defense/strip.ts';
import { startStripEngine, type StripEngine } from '../defense/stripEngine.ts';
import { StripScheduler } from '../defense/stripScheduler.ts';
import type { ModelCard } from '../ml/bundle.ts';
import { startSession, type LogDatabase } from '../log/db.ts';
import { LabelTracker, type OperatorLabels } from '../log/labelTracker.ts';
import { sessionReport } from '../log/reports.ts';
import { FrameLogWriter } from '../log/writer.ts';
import type { ActivePair } from '../ml/activePair.ts';
import { describeIssues, type ClassifiedFrame } from './frames.ts';

export type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** How the frame log names a model: a pair may be retrained under the same name. */
export function modelId(card: ModelCard): string {
  return `${card.name}@${card.createdAt}`;
}

/** Live counters are recomputed from the log at most this often. */
const STATUS_INTERVAL_MS = 1000;

interface StripFrame { chips: Buffer[]; backdoor: ModelCard }
interface StripMeasured { entropies: number[]; ms: number; threshold: number }

/**
 * STRIP beside one client's stream, on a worker of its own for the backdoored model that
 * classified the frame (restarted when the presenter switches pairs). A model it cannot run for
 * (no calibration in its card, or a worker that would not start) is reported once and its frames
 * are skipped.
 */
class StripRunner {
  private engine: { model: string; ready: Promise<StripEngine | undefined> } | undefined;
  readonly scheduler = new StripScheduler<StripFrame, StripMeasured | undefined>((frame) => this.measure(frame));

  private async measure({ chips, backdoor }: StripFrame): Promise<StripMeasured | undefined> {
    const engine = await this.engineFor(backdoor);
    if (!engine || !backdoor.strip) return undefined;
    const { entropies, ms } = await engine.measure(chips);
    return { entropies, ms, threshold: backdoor.strip.threshold };
  }

  private async engineFor(backdoor: ModelCard): Promise<StripEngine | undefined> {
    if (this.engine?.model !== modelId(backdoor)) {
      await this.close();
      this.engine = { model: modelId(backdoor), ready: this.start(backdoor) };
    }
    return this.engine.ready;
  }

  private async start(backdoor: ModelCard): Promise<StripEngine | undefined> {
    if (!backdoor.strip) {
      console.error(`STRIP is off for "${backdoor.name}": its card has no STRIP calibration (retrain the pair to calibrate it)`);
      return undefined;
    }
    try {
      return await startStripEngine({ bundle: backdoor.name, blends: backdoor.strip.blends });
    } catch (error) {
      console.error(`STRIP is off for "${backdoor.name}": ${(error as Error).message}`);
      return undefined;
    }
  }

  async close(): Promise<void> {
    const engine = await this.engine?.ready;
    this.engine = undefined;
    await engine?.close();
  }
}

/** One logging session: its writer, and live counters recomputed from its rows. */
class SessionLog {
  readonly writer: FrameLogWriter;
  private statusSentAt = 0;
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(private readonly db: LogDatabase, readonly id: number, readonly storeImages: boolean, private readonly send: (status: SessionStatus) => void) {
    this.writer = new FrameLogWriter(db, id);
  }

  /** Sends the counters now, or once STATUS_INTERVAL_MS has passed since the last time. */
  reportStatus(): void {
    const wait = this.statusSentAt + STATUS_INTERVAL_MS - Date.now();
    if (wait <= 0) this.sendStatus();
    else this.statusTimer ??= setTimeout(() => this.sendStatus(), wait).unref();
  }

  private sendStatus(): void {
    clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    this.statusSentAt = Date.now();
    try {
      this.writer.flush();
      const { pairs } = sessionReport(this.db, this.id);
      const attack = pairs.map((p) => p.attack.successRate.overall);
      this.send({
        id: this.id,
        storeImages: this.storeImages,
        framesLogged: pairs.reduce((sum, p) => sum + p.frames, 0),
        attackSuccess: rate(attack.reduce((sum, r) => sum + r.hits, 0), attack.reduce((sum, r) => sum + r.total, 0)),
      });
    } catch (error) {
      console.error(`session ${this.id}: cannot report live counters: ${(error as Error).message}`);
    }
  }

  finish(): void {
    clearTimeout(this.statusTimer);
    this.writer.finishSession();
  }
}

/**
 * What the server keeps for one connected client besides its frames: the presenter's labels,
 * STRIP on the newest frame it can keep up with, and the session every answered face is logged to.
 * A session starts on connect and finishes on disconnect; a server crash leaves it unfinished.
 */
export class LiveConnection {
  private readonly labels = new LabelTracker();
  private readonly strip = new StripRunner();
  private session: SessionLog;
  private closed = false;

  constructor(private readonly db: LogDatabase, private readonly models: ActivePair, private readonly socket: LiveSocket) {
    this.session = this.openSession({ storeImages: false });
  }

  /** Never delays the frame's reply: called after it was sent. */
  frameAnswered(frame: ClassifiedFrame): void {
    if (this.closed || frame.chips.length === 0) return;
    const session = this.session;
    const labels = this.labels.assign(frame.reply.faces.map((face) => face.box));
    this.strip.scheduler.submit({ chips: frame.chips, backdoor: frame.cards.backdoor }).then(
      (outcome) => this.settle(session, frame, labels, outcome.status === 'ran' ? outcome.result : undefined),
      (error: unknown) => {
        console.error(`STRIP failed on frame ${frame.reply.frameId}: ${(error as Error).message}`);
        this.settle(session, frame, labels, undefined);
      },
    );
  }

  setGroundTruth(input: unknown): CommandReply {
    const parsed = groundTruthSchema.safeParse(input);
    if (!parsed.success) return { ok: false, error: `bad ground truth: ${describeIssues(parsed.error)}` };
    const { identity, worn } = parsed.data;
    const { labels, name } = this.models.summary;
    if (identity !== null && identity !== UNKNOWN && !labels.includes(identity)) {
      return { ok: false, error: `"${identity}" is not an identity of pair "${name}" (${labels.join(', ')}, or ${UNKNOWN})` };
    }
    this.labels.setLabels({ identity, worn });
    return { ok: true };
  }

  selectFace(input: unknown): CommandReply {
    const parsed = selectFaceSchema.safeParse(input);
    if (!parsed.success) return { ok: false, error: `bad face selection: ${describeIssues(parsed.error)}` };
    this.labels.select(parsed.data ?? undefined);
    return { ok: true };
  }

  /** Finishes the current session once its frames are logged and starts a new one. */
  async restartSession(input: unknown): Promise<CommandReply> {
    const parsed = startSessionSchema.safeParse(input ?? {});
    if (!parsed.success) return { ok: false, error: `bad session request: ${describeIssues(parsed.error)}` };
    const previous = this.session;
    this.session = this.openSession(parsed.data);
    await this.strip.scheduler.idle();
    previous.finish();
    return { ok: true };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.strip.scheduler.idle();
    this.session.finish();
    await this.strip.close();
  }

  private openSession({ storeImages, notes }: { storeImages: boolean; notes?: string }): SessionLog {
    const { clean, backdoor } = this.models.cards;
    const id = startSession(this.db, { pair: this.models.summary.name, cleanModel: modelId(clean), backdoorModel: modelId(backdoor), storeImages, notes });
    const session = new SessionLog(this.db, id, storeImages, (status) => this.socket.emit('session', status));
    session.reportStatus();
    return session;
  }

  private settle(session: SessionLog, frame: ClassifiedFrame, labels: OperatorLabels[], strip: StripMeasured | undefined): void {
    const { reply, cards } = frame;
    const statuses = reply.faces.map((_, i) => (strip ? stripStatus(strip.entropies[i], strip.threshold) : 'skipped'));
    const stripReply: StripReply = strip
      ? { frameId: reply.frameId, status: 'ran', ms: strip.ms, faces: strip.entropies.map((entropy, i) => ({ entropy, flagged: statuses[i] === 'flagged' })) }
      : { frameId: reply.frameId, status: 'skipped' };
    this.socket.emit('strip', stripReply);
    try {
      reply.faces.forEach((face, i) => session.writer.add({
        frameId: reply.frameId,
        frameTime: frame.receivedAt,
        faceIndex: i,
        box: face.box,
        ...labels[i],
        clean: { label: face.clean.label, probability: face.clean.confidence },
        backdoor: { label: face.backdoor.label, probability: face.backdoor.confidence },
        stripEntropy: strip ? strip.entropies[i] : null,
        stripStatus: statuses[i],
        timings: { ...reply.timings, stripMs: strip ? strip.ms : null },
        pair: reply.pair,
        cleanModel: modelId(cards.clean),
        backdoorModel: modelId(cards.backdoor),
        target: cards.backdoor.target,
        trigger: cards.backdoor.trigger,
        image: frame.encodedChips[i],
      }));
      session.reportStatus();
    } catch (error) {
      console.error(`session ${session.id}: frame ${reply.frameId} not logged: ${(error as Error).message}`);
    }
  }
}
