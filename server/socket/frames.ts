import type { z } from 'zod';
import { decodeChips } from '../ml/pair.ts';
import { framePayloadSchema, type FrameReply } from '../../shared/protocol.ts';
import type { ActivePair, PairCards } from '../ml/activePair.ts';

/** What the frame log and STRIP need of a frame that was classified. */
export interface ClassifiedFrame {
  reply: Extract<FrameReply, { ok: true }>;
  /** Epoch ms when the server received the frame. */
  receivedAt: number;
  /** Raw RGB chips, as classified. */
  chips: Buffer[];
  /** The chips as the client sent them (JPEG), stored only in sessions that store images. */
  encodedChips: Uint8Array[];
  cards: PairCards;
}

export type AnsweredFrame = { reply: Extract<FrameReply, { ok: false }> } | ClassifiedFrame;

export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
}

function frameIdOf(payload: unknown): number {
  const id = (payload as { frameId?: unknown } | null)?.frameId;
  return typeof id === 'number' && Number.isFinite(id) ? id : -1;
}

/**
 * One frame from a client: validated, chips decoded, both models run, answered. Never throws: a
 * bad frame gets an error reply and the client's connection carries on.
 */
export async function answerFrame(models: ActivePair, payload: unknown): Promise<AnsweredFrame> {
  const receivedAt = Date.now();
  const started = performance.now();
  const parsed = framePayloadSchema.safeParse(payload);
  if (!parsed.success) return { reply: { ok: false, frameId: frameIdOf(payload), error: `bad frame: ${describeIssues(parsed.error)}` } };
  const { frameId, capturedAt, faces } = parsed.data;

  let chips: Buffer[];
  try {
    chips = await decodeChips(faces.map((face) => face.chip));
  } catch (error) {
    return { reply: { ok: false, frameId, error: `bad frame: ${(error as Error).message}` } };
  }
  const decodeMs = performance.now() - started;

  try {
    const { pair, cards, verdicts, trunkMs, tailsMs } = await models.classify(chips);
    const reply = {
      ok: true as const,
      frameId,
      capturedAt,
      pair,
      faces: verdicts.map((verdict, i) => ({ box: faces[i].box, ...verdict })),
      timings: { decodeMs, trunkMs, tailsMs, totalMs: performance.now() - started },
    };
    return { reply, receivedAt, chips, encodedChips: faces.map((face) => face.chip), cards };
  } catch (error) {
    console.error('classifying a frame failed:', error);
    return { reply: { ok: false, frameId, error: `the server could not classify this frame: ${(error as Error).message}` } };
  }
}

/** The answer to a frame that waited and was replaced by a newer one before its turn. */
export function supersededReply(payload: unknown): FrameReply {
  return { ok: false, frameId: frameIdOf(payload), error: 'dropped: a newer frame from this client arrived before it was processed' };
}
