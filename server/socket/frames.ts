import { framePayloadSchema, type FrameReply } from '../../shared/protocol.ts';
import { describeIssues } from '../errors.ts';
import type { ClassifiedFrame } from '../log/liveSession.ts';
import type { ActivePair } from '../ml/activePair.ts';
import { decodeChips } from '../ml/chips.ts';

/** A classified frame with the raw chips STRIP blends. */
export interface AnsweredFrame extends ClassifiedFrame { chips: Buffer[] }

function frameIdOf(payload: unknown): number {
  const id = (payload as { frameId?: unknown } | null)?.frameId;
  return typeof id === 'number' && Number.isFinite(id) ? id : -1;
}

/**
 * One frame from a client: validated, chips decoded, handed to the inference pool, answered.
 * Never throws: a bad frame gets an error reply and the client's connection carries on.
 */
export async function answerFrame(models: ActivePair, payload: unknown): Promise<{ reply: Extract<FrameReply, { ok: false }> } | AnsweredFrame> {
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
  const decoded = performance.now();

  try {
    const { pair, cards, verdicts, trunkMs, tailsMs, batch } = await models.classify(chips);
    const totalMs = performance.now() - started;
    const reply = {
      ok: true as const,
      frameId,
      capturedAt,
      pair,
      faces: verdicts.map((verdict, i) => ({ box: faces[i].box, ...verdict })),
      timings: { decodeMs: decoded - started, queueMs: Math.max(0, totalMs - (decoded - started) - trunkMs - tailsMs), trunkMs, tailsMs, totalMs, batch },
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
