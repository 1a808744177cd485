import { boxOverlap } from '../../../shared/boxes.ts';
import type { Box } from '../../../shared/protocol.ts';
import type { Size } from './detector.ts';

/** Verdicts and detections belong to the same face when their boxes overlap at least this much. */
const MIN_IOU = 0.3;

/** STRIP's outcome for one face, by the box the face had in the frame STRIP ran on. */
export interface FaceStrip { box: Box; entropy: number; flagged: boolean }

/**
 * Verdicts and STRIP results arrive after the frame they were computed on, while boxes follow every
 * frame: each current box gets the item whose box overlaps it most (greedy, one to one).
 */
export function matchByBox<T extends { box: Box }>(boxes: Box[], items: T[]): (T | undefined)[] {
  const pairs = boxes.flatMap((box, i) => items.map((item, j) => ({ i, j, overlap: boxOverlap(box, item.box) })));
  pairs.sort((a, b) => b.overlap - a.overlap);
  const matched: (T | undefined)[] = boxes.map(() => undefined);
  const used = new Set<number>();
  for (const { i, j, overlap } of pairs) {
    if (overlap < MIN_IOU) break;
    if (matched[i] || used.has(j)) continue;
    matched[i] = items[j];
    used.add(j);
  }
  return matched;
}

/** A box in frame pixels -> percentages of the displayed frame, flipped when the preview is mirrored. */
export function displayBox(box: Box, frame: Size, mirrored: boolean): Box {
  const x = mirrored ? frame.width - box.x - box.width : box.x;
  return {
    x: (100 * x) / frame.width,
    y: (100 * box.y) / frame.height,
    width: (100 * box.width) / frame.width,
    height: (100 * box.height) / frame.height,
  };
}

export function percent(probability: number): string {
  return `${Math.round(probability * 100)}%`;
}
