import { boxOverlap } from '../../shared/boxes.ts';
import type { Box } from '../../shared/protocol.ts';

/** The presenter's ground truth for one face; null fields mean unlabelled. */
export interface OperatorLabels { identity: string | null; worn: string | null }

const UNLABELLED: OperatorLabels = { identity: null, worn: null };

export interface TrackerOptions {
  /** A face continues the tracked one when their boxes overlap at least this much (IoU). */
  minOverlap?: number;
  /** Frames the tracked face may go undetected (a blink of the detector) before it counts as gone. */
  maxMissedFrames?: number;
}

/**
 * Which face of each frame the presenter's labels belong to. The presenter selects a face, by
 * default the largest; it is then followed by box overlap from frame to frame, so its labels stay
 * with that person while others come, go or grow larger. Every other face is logged unlabelled.
 * When the followed face is gone for good, a default selection moves to the largest face again;
 * an explicit one labels nobody until the presenter selects again, rather than guess.
 */
export class LabelTracker {
  private labels: OperatorLabels = UNLABELLED;
  private tracked: Box | undefined;
  private missedFrames = 0;
  private followLargest = true;
  private readonly minOverlap: number;
  private readonly maxMissedFrames: number;

  constructor({ minOverlap = 0.3, maxMissedFrames = 15 }: TrackerOptions = {}) {
    this.minOverlap = minOverlap;
    this.maxMissedFrames = maxMissedFrames;
  }

  /** Applies to the selected face from the next frame on, until changed. */
  setLabels(labels: OperatorLabels): void {
    this.labels = { ...labels };
  }

  /** The presenter picks the face with this box (from the latest frame); no box goes back to the largest face. */
  select(box?: Box): void {
    this.tracked = box;
    this.followLargest = box === undefined;
    this.missedFrames = 0;
  }

  /** The labels of each face of a new frame, in the frame's order. */
  assign(boxes: readonly Box[]): OperatorLabels[] {
    const selected = this.follow(boxes);
    return boxes.map((_, i) => (i === selected ? { ...this.labels } : UNLABELLED));
  }

  private follow(boxes: readonly Box[]): number {
    let selected = -1;
    if (this.tracked) {
      let best = this.minOverlap;
      boxes.forEach((box, i) => {
        const overlap = boxOverlap(box, this.tracked!);
        if (overlap >= best) [selected, best] = [i, overlap];
      });
      if (selected < 0 && ++this.missedFrames > this.maxMissedFrames) this.tracked = undefined;
    }
    if (!this.tracked && this.followLargest && boxes.length > 0) {
      selected = boxes.reduce((largest, box, i) => (box.width * box.height > boxes[largest].width * boxes[largest].height ? i : largest), 0);
    }
    if (selected >= 0) {
      this.tracked = boxes[selected];
      this.missedFrames = 0;
    }
    return selected;
  }
}
