import { describe, expect, it } from 'vitest';
import type { Box } from '../../shared/protocol.ts';
import { LabelTracker } from '../../server/log/labelTracker.ts';

const box = (x: number, y: number, size: number): Box => ({ x, y, width: size, height: size });
const ALICE = { identity: 'alice', worn: 'sunglasses' };
const NONE = { identity: null, worn: null };

describe('label tracker', () => {
  it('labels the largest face by default and keeps the label on that person as faces move, reorder and others grow', () => {
    const tracker = new LabelTracker();
    tracker.setLabels(ALICE);
    expect(tracker.assign([box(300, 0, 80), box(0, 0, 100)])).toEqual([NONE, ALICE]);
    // Alice drifts right and a newcomer closer to the camera is now the largest face, listed first.
    expect(tracker.assign([box(200, 0, 150), box(8, 2, 100)])).toEqual([NONE, ALICE]);
    expect(tracker.assign([box(16, 4, 100), box(200, 0, 150)])).toEqual([ALICE, NONE]);
  });

  it('applies new labels from the next frame on', () => {
    const tracker = new LabelTracker();
    tracker.setLabels(ALICE);
    expect(tracker.assign([box(0, 0, 100)])).toEqual([ALICE]);
    tracker.setLabels({ identity: 'alice', worn: 'none' });
    expect(tracker.assign([box(0, 0, 100)])).toEqual([{ identity: 'alice', worn: 'none' }]);
  });

  it('waits for a face the detector briefly missed instead of jumping to someone else', () => {
    const tracker = new LabelTracker({ maxMissedFrames: 2 });
    tracker.setLabels(ALICE);
    tracker.assign([box(0, 0, 100)]);
    expect(tracker.assign([box(300, 0, 90)])).toEqual([NONE]);
    expect(tracker.assign([box(300, 0, 90)])).toEqual([NONE]);
    expect(tracker.assign([box(300, 0, 90), box(2, 0, 100)])).toEqual([NONE, ALICE]);
    // Gone for longer than the grace period: the default selection moves to the largest face.
    for (let i = 0; i < 3; i++) tracker.assign([box(300, 0, 90)]);
    expect(tracker.assign([box(300, 0, 90), box(0, 0, 50)])).toEqual([ALICE, NONE]);
  });

  it('follows an explicitly selected face and labels nobody once it is gone, until the presenter selects again', () => {
    const tracker = new LabelTracker({ maxMissedFrames: 1 });
    tracker.setLabels(ALICE);
    tracker.select(box(300, 0, 60));
    expect(tracker.assign([box(0, 0, 100), box(305, 0, 60)])).toEqual([NONE, ALICE]);
    tracker.assign([box(0, 0, 100)]);
    tracker.assign([box(0, 0, 100)]);
    expect(tracker.assign([box(0, 0, 100)])).toEqual([NONE]);
    tracker.select();
    expect(tracker.assign([box(0, 0, 100)])).toEqual([ALICE]);
  });
});
