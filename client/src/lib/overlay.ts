import type { Box, FacePrediction } from '../../../shared/protocol.ts';
import type { Size } from './detector.ts';

/** Verdicts and detections belong to the same face when their boxes overlap at least this much. */
const MIN_IOU = 0.3;

export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * Verdicts arrive a round trip after the frame they were computed on, while boxes follow every
 * frame: each current box gets the verdict whose box overlaps it most (greedy, one to one).
 */
export function matchVerdicts(boxes: Box[], predictions: FacePrediction[]): (FacePrediction | undefined)[] {
  const pairs = boxes.flatMap((box, i) => predictions.map((p, j) => ({ i, j, overlap: iou(box, p.box) })));
  pairs.sort((a, b) => b.overlap - a.overlap);
  const matched: (FacePrediction | undefined)[] = boxes.map(() => undefined);
  const used = new Set<number>();
  for (const { i, j, overlap } of pairs) {
    if (overlap < MIN_IOU) break;
    if (matched[i] || used.has(j)) continue;
    matched[i] = predictions[j];
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
