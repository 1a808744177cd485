import { describe, expect, it } from 'vitest';
import { framePayloadSchema, LatestWins, MAX_CHIP_BYTES, MAX_FACES_PER_FRAME, MAX_FRAME_BYTES } from '../../shared/protocol.ts';

const box = { x: 1, y: 2, width: 30, height: 40 };
const chip = new Uint8Array([0xff, 0xd8, 0xff]);

describe('frame payload', () => {
  it('takes chips as Uint8Array (browser) or ArrayBuffer (what Socket.IO may hand over) and yields bytes', () => {
    const parsed = framePayloadSchema.parse({ frameId: 3, capturedAt: 12.5, faces: [{ box, chip }, { box, chip: chip.buffer }] });
    expect(parsed.faces.map((f) => f.chip)).toEqual([chip, chip]);
    expect(parsed.faces[1].chip).toBeInstanceOf(Uint8Array);
  });

  it('refuses more faces than allowed, empty or oversize chips, text chips and degenerate boxes', () => {
    const frame = (faces: unknown[]) => framePayloadSchema.safeParse({ frameId: 0, capturedAt: 0, faces }).success;
    expect(frame(Array.from({ length: MAX_FACES_PER_FRAME }, () => ({ box, chip })))).toBe(true);
    expect(frame(Array.from({ length: MAX_FACES_PER_FRAME + 1 }, () => ({ box, chip })))).toBe(false);
    expect(frame([{ box, chip: new Uint8Array(0) }])).toBe(false);
    expect(frame([{ box, chip: new Uint8Array(MAX_CHIP_BYTES + 1) }])).toBe(false);
    expect(frame([{ box, chip: 'aGVsbG8=' }])).toBe(false);
    expect(frame([{ box: { ...box, width: 0 }, chip }])).toBe(false);
  });

  it('fits a full frame of the largest chips into the transport limit', () => {
    expect(MAX_FRAME_BYTES).toBeGreaterThan(MAX_FACES_PER_FRAME * MAX_CHIP_BYTES);
  });
});

/** A job that finishes when the test says so. */
function controllable() {
  const started: number[] = [];
  const finishers = new Map<number, () => void>();
  const work = (item: number) => {
    started.push(item);
    return new Promise<void>((resolve) => finishers.set(item, resolve));
  };
  const finish = async (item: number) => {
    finishers.get(item)!();
    // Let the queue's continuation run.
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { started, work, finish };
}

describe('latest wins', () => {
  it('works on one item at a time and then on the newest that arrived meanwhile, dropping the rest', async () => {
    const { started, work, finish } = controllable();
    const dropped: number[] = [];
    const queue = new LatestWins(work, (item) => dropped.push(item));
    queue.offer(1);
    queue.offer(2);
    queue.offer(3);
    queue.offer(4);
    expect(started).toEqual([1]);
    expect(dropped).toEqual([2, 3]);
    expect(queue.busy).toBe(true);
    await finish(1);
    expect(started).toEqual([1, 4]);
    await finish(4);
    expect(queue.busy).toBe(false);
    queue.offer(5);
    expect(started).toEqual([1, 4, 5]);
  });
});
