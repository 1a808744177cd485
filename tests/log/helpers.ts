import type { FaceRecord } from '../../server/log/writer.ts';

export const PAIR_ONE = { pair: 'p1', cleanModel: 'p1-clean@1', backdoorModel: 'p1-backdoor@1', target: 'tom', trigger: 'sunglasses' };

/** A logged face with plausible defaults; tests override what they count. */
export function face(overrides: Partial<FaceRecord> & { frameId: number }): FaceRecord {
  return {
    frameTime: 1_700_000_000_000 + overrides.frameId * 100,
    faceIndex: 0,
    box: { x: 10, y: 20, width: 120, height: 140 },
    identity: 'alice',
    worn: 'none',
    clean: { label: 'alice', probability: 0.9 },
    backdoor: { label: 'alice', probability: 0.8 },
    stripEntropy: null,
    stripStatus: 'skipped',
    timings: { decodeMs: 2, trunkMs: 25, tailsMs: 3, stripMs: null, totalMs: 31 },
    ...PAIR_ONE,
    ...overrides,
  };
}
