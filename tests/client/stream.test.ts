import { describe, expect, it } from 'vitest';
import { ANSWER_TIMEOUT_MS, FrameStream, type FrameChannel } from '../../client/src/lib/stream.ts';
import type { FramePayload, FrameReply } from '../../shared/protocol.ts';

const frame = (frameId: number): FramePayload => ({ frameId, capturedAt: frameId, faces: [] });
const answer = (frameId: number): FrameReply => ({ ok: true, frameId, capturedAt: frameId, pair: 'demo', faces: [], timings: { decodeMs: 0, queueMs: 0, trunkMs: 0, tailsMs: 0, totalMs: 0, batch: 1 } });
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A connection whose answers the test releases one by one. */
class FakeChannel implements FrameChannel {
  connected = true;
  sent: number[] = [];
  #pending: { resolve: (reply: FrameReply) => void; reject: (error: Error) => void }[] = [];

  request(payload: FramePayload): Promise<FrameReply> {
    this.sent.push(payload.frameId);
    return new Promise((resolve, reject) => this.#pending.push({ resolve, reject }));
  }

  get inFlight(): number {
    return this.#pending.length;
  }

  async answer(): Promise<void> {
    this.#pending.shift()!.resolve(answer(this.sent.at(-1)!));
    await settle();
  }

  async timeOut(): Promise<void> {
    this.#pending.shift()!.reject(new Error('operation has timed out'));
    await settle();
  }
}

describe('frame stream (latest frame wins)', () => {
  it('keeps one frame in flight and sends the newest one when the answer comes', async () => {
    const channel = new FakeChannel();
    const replies: FrameReply[] = [];
    const stream = new FrameStream(channel, (reply) => replies.push(reply));
    for (const id of [1, 2, 3, 4]) stream.send(frame(id));
    expect(channel.sent).toEqual([1]);
    expect(channel.inFlight).toBe(1);
    await channel.answer();
    expect(channel.sent).toEqual([1, 4]);
    expect(channel.inFlight).toBe(1);
    await channel.answer();
    expect(replies.map((r) => r.frameId)).toEqual([1, 4]);
    stream.send(frame(5));
    expect(channel.sent).toEqual([1, 4, 5]);
  });

  it('drops frames while disconnected instead of buffering them for the reconnect', async () => {
    const channel = new FakeChannel();
    const stream = new FrameStream(channel, () => {});
    channel.connected = false;
    stream.send(frame(1));
    stream.send(frame(2));
    await settle();
    expect(channel.sent).toEqual([]);
    channel.connected = true;
    stream.send(frame(3));
    expect(channel.sent).toEqual([3]);
  });

  it('reports a frame the server never answered and carries on', async () => {
    const channel = new FakeChannel();
    const replies: FrameReply[] = [];
    const stream = new FrameStream(channel, (reply) => replies.push(reply));
    stream.send(frame(1));
    stream.send(frame(2));
    await channel.timeOut();
    expect(replies).toEqual([{ ok: false, frameId: 1, error: `no answer from the server within ${ANSWER_TIMEOUT_MS / 1000} s` }]);
    expect(channel.sent).toEqual([1, 2]);
  });
});
