import { UNKNOWN } from '../../shared/names.ts';
import {
  groundTruthSchema,
  selectFaceSchema,
  startSessionSchema,
  type CommandReply,
  type FrameReply,
  type SessionStatus,
  type StripReply,
} from '../../shared/protocol.ts';
import { describeIssues } from '../errors.ts';
import { stripStatus } from '../defense/strip.ts';
import type { StripOutcome } from '../defense/liveStrip.ts';
import type { ModelCard } from '../ml/bundle.ts';
import type { ActivePair, PairCards } from '../ml/activePair.ts';
import { startSession, type LogDatabase } from './db.ts';
import { LabelTracker, type OperatorLabels } from './labelTracker.ts';
import { SessionLog } from './sessionLog.ts';

/** How the frame log names a model: a pair may be retrained under the same name. */
export function modelId(card: ModelCard): string {
  return `${card.name}@${card.createdAt}`;
}

/** What the log keeps of a frame that was classified. */
export interface ClassifiedFrame {
  reply: Extract<FrameReply, { ok: true }>;
  /** Epoch ms when the server received the frame. */
  receivedAt: number;
  /** The chips as the client sent them (JPEG), stored only in sessions that store images. */
  encodedChips: Uint8Array[];
  cards: PairCards;
}

/** Where and with which labels an answered frame is logged, whenever STRIP finishes with it. */
export interface FrameLabels { session: SessionLog; labels: OperatorLabels[] }

/**
 * One client's logging: the presenter's labels and the session every answered face is logged to,
 * with its STRIP outcome. A session starts on connect and finishes on disconnect; a server crash
 * leaves it unfinished.
 */
export class LiveSession {
  private readonly labels = new LabelTracker();
  private session: SessionLog;

  constructor(
    private readonly db: LogDatabase,
    private readonly models: ActivePair,
    private readonly send: { status(status: SessionStatus): void; strip(reply: StripReply): void },
    private readonly stripFacesPerSecond: () => number,
  ) {
    this.session = this.open({ storeImages: false });
  }

  /** The presenter's labels for each face of a frame and the session it belongs to, fixed when it is answered. */
  labelFaces(frame: ClassifiedFrame): FrameLabels {
    return { session: this.session, labels: this.labels.assign(frame.reply.faces.map((face) => face.box)) };
  }

  /** Logs a frame's faces once STRIP has its outcome, and tells the page STRIP's verdict. */
  record(frame: ClassifiedFrame, { session, labels }: FrameLabels, strip: StripOutcome): void {
    const { reply, cards } = frame;
    const ran = strip.status === 'ran' ? strip : undefined;
    const statuses = reply.faces.map((_, i) => (ran ? stripStatus(ran.entropies[i], ran.threshold) : 'skipped'));
    this.send.strip(ran
      ? { frameId: reply.frameId, status: 'ran', ms: ran.ms, faces: ran.entropies.map((entropy, i) => ({ entropy, flagged: statuses[i] === 'flagged' })) }
      : { frameId: reply.frameId, status: 'skipped' });
    try {
      reply.faces.forEach((face, i) => session.writer.add({
        frameId: reply.frameId,
        frameTime: frame.receivedAt,
        faceIndex: i,
        box: face.box,
        ...labels[i],
        clean: { label: face.clean.label, probability: face.clean.confidence },
        backdoor: { label: face.backdoor.label, probability: face.backdoor.confidence },
        stripEntropy: ran ? ran.entropies[i] : null,
        stripStatus: statuses[i],
        timings: { decodeMs: reply.timings.decodeMs, trunkMs: reply.timings.trunkMs, tailsMs: reply.timings.tailsMs, totalMs: reply.timings.totalMs, stripMs: ran ? ran.ms : null },
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

  /** Starts a new session; the previous one finishes once `pending` (its frames' STRIP) settles. */
  async restart(input: unknown, pending: () => Promise<void>): Promise<CommandReply> {
    const parsed = startSessionSchema.safeParse(input ?? {});
    if (!parsed.success) return { ok: false, error: `bad session request: ${describeIssues(parsed.error)}` };
    const previous = this.session;
    this.session = this.open(parsed.data);
    await pending();
    previous.finish();
    return { ok: true };
  }

  /** Finishes the session; call once the frames' STRIP outcomes are in. */
  finish(): void {
    this.session.finish();
  }

  private open({ storeImages, notes }: { storeImages: boolean; notes?: string }): SessionLog {
    const { clean, backdoor } = this.models.cards;
    const id = startSession(this.db, { pair: this.models.summary.name, cleanModel: modelId(clean), backdoorModel: modelId(backdoor), storeImages, notes });
    const session = new SessionLog(this.db, id, storeImages, (status) => this.send.status(status), this.stripFacesPerSecond);
    session.reportStatus();
    return session;
  }
}
