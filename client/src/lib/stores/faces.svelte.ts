import type { FacePrediction, FrameReply } from '../../../../shared/protocol.ts';
import type { DetectedFace, Size } from '../detector.ts';
import { matchVerdicts } from '../overlay.ts';

/** The faces in the current frame and the latest verdicts on them. */
export class FacesStore {
  frame = $state<Size>({ width: 0, height: 0 });
  detections = $state.raw<DetectedFace[]>([]);
  verdicts = $state.raw<FacePrediction[]>([]);
  /** Why the server rejected the latest frame. */
  error = $state<string>();
  matched = $derived(matchVerdicts(this.detections.map((face) => face.box), this.verdicts));

  detected(frame: Size, faces: DetectedFace[]): void {
    if (frame.width !== this.frame.width || frame.height !== this.frame.height) this.frame = frame;
    this.detections = faces;
  }

  answered(reply: FrameReply): void {
    if (reply.ok) {
      this.verdicts = reply.faces;
      this.error = undefined;
    } else {
      this.error = reply.error;
    }
  }

  clear(): void {
    this.detections = [];
    this.verdicts = [];
    this.error = undefined;
  }
}
