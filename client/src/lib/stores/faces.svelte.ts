import { boxOverlap } from '../../../../shared/boxes.ts';
import type { Box, FacePrediction, FrameReply, StripReply } from '../../../../shared/protocol.ts';
import type { DetectedFace, Size } from '../detector.ts';
import { matchByBox, type FaceStrip } from '../overlay.ts';

/** STRIP settles a few frames after the verdicts: the boxes of this many recent frames are kept to place it. */
const RECENT_FRAMES = 16;
/** The rolling entropy chart shows this many measured faces. */
const ENTROPY_HISTORY = 120;
/** The selected face continues as the detection overlapping it at least this much. */
const MIN_SELECTION_OVERLAP = 0.3;

export interface EntropyPoint { id: number; entropy: number; flagged: boolean }

/** The faces in the current frame, the latest verdicts and STRIP results on them, and the presenter's selected face. */
export class FacesStore {
  frame = $state<Size>({ width: 0, height: 0 });
  detections = $state.raw<DetectedFace[]>([]);
  verdicts = $state.raw<FacePrediction[]>([]);
  /** The latest frame STRIP ran on; faces it does not match show STRIP as skipped. */
  strips = $state.raw<FaceStrip[]>([]);
  /** The latest STRIP entropies, oldest first, for the rolling chart. */
  entropyHistory = $state.raw<EntropyPoint[]>([]);
  /** The box (frame pixels) of the face the presenter labels, followed from frame to frame; none: the largest. */
  selected = $state.raw<Box>();
  /** Why the server rejected the latest frame. */
  error = $state<string>();
  matched = $derived(matchByBox(this.detections.map((face) => face.box), this.verdicts));
  matchedStrips = $derived(matchByBox(this.detections.map((face) => face.box), this.strips));
  #recentBoxes = new Map<number, Box[]>();
  #measured = 0;

  detected(frame: Size, faces: DetectedFace[]): void {
    if (frame.width !== this.frame.width || frame.height !== this.frame.height) this.frame = frame;
    this.detections = faces;
    if (this.selected) this.selected = this.#follow(this.selected, faces) ?? this.selected;
  }

  answered(reply: FrameReply): void {
    if (reply.ok) {
      this.verdicts = reply.faces;
      this.error = undefined;
      this.#recentBoxes.set(reply.frameId, reply.faces.map((face) => face.box));
      if (this.#recentBoxes.size > RECENT_FRAMES) this.#recentBoxes.delete(this.#recentBoxes.keys().next().value!);
    } else {
      this.error = reply.error;
    }
  }

  stripArrived(reply: StripReply): void {
    const boxes = this.#recentBoxes.get(reply.frameId);
    if (reply.status !== 'ran') return;
    if (boxes) this.strips = reply.faces.map((face, i) => ({ box: boxes[i], ...face }));
    const measured = reply.faces.map(({ entropy, flagged }) => ({ id: this.#measured++, entropy, flagged }));
    this.entropyHistory = [...this.entropyHistory, ...measured].slice(-ENTROPY_HISTORY);
  }

  select(box: Box | undefined): void {
    this.selected = box;
  }

  clear(): void {
    this.detections = [];
    this.verdicts = [];
    this.strips = [];
    this.#recentBoxes.clear();
    this.error = undefined;
  }

  #follow(selected: Box, faces: DetectedFace[]): Box | undefined {
    let best: { box: Box; overlap: number } | undefined;
    for (const { box } of faces) {
      const overlap = boxOverlap(box, selected);
      if (overlap >= MIN_SELECTION_OVERLAP && overlap > (best?.overlap ?? 0)) best = { box, overlap };
    }
    return best?.box;
  }
}
