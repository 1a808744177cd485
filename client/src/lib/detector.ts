import { FaceDetector, FilesetResolver, type Detection } from '@mediapipe/tasks-vision';
import type { FaceKeypoints } from '../../../shared/alignment.ts';
import { MAX_FACES_PER_FRAME, MEDIAPIPE_PATHS, type Box } from '../../../shared/protocol.ts';

export interface Size {
  width: number;
  height: number;
}

export interface DetectedFace {
  /** In source-frame pixels. */
  box: Box;
  keypoints: FaceKeypoints;
  score: number;
}

export interface FaceFinder {
  /** Faces in the frame, largest first; `timestampMs` must increase from call to call. */
  detect(frame: HTMLVideoElement | HTMLImageElement, size: Size, timestampMs: number): DetectedFace[];
  close(): void;
}

/** BlazeFace's keypoint order. Its "right eye" is the subject's right: the image's left. */
const KEYPOINT_NAMES = ['leftEye', 'rightEye', 'noseTip', 'mouth', 'leftEar', 'rightEar'] as const;

/** MediaPipe detections -> faces in pixels, the largest MAX_FACES_PER_FRAME first. */
export function toDetectedFaces(detections: Detection[], size: Size): DetectedFace[] {
  const faces: DetectedFace[] = [];
  for (const { boundingBox, keypoints, categories } of detections) {
    if (!boundingBox || keypoints.length < KEYPOINT_NAMES.length) continue;
    const named = Object.fromEntries(KEYPOINT_NAMES.map((name, i) => [name, { x: keypoints[i].x * size.width, y: keypoints[i].y * size.height }]));
    faces.push({
      box: { x: boundingBox.originX, y: boundingBox.originY, width: boundingBox.width, height: boundingBox.height },
      keypoints: named as unknown as FaceKeypoints,
      score: categories[0]?.score ?? 0,
    });
  }
  return faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height).slice(0, MAX_FACES_PER_FRAME);
}

/** Loads MediaPipe's face detector from our own server: the wasm runtime and the patched short-range model. */
export async function loadFaceFinder(): Promise<FaceFinder> {
  const fileset = await FilesetResolver.forVisionTasks(MEDIAPIPE_PATHS.wasm);
  const detector = await FaceDetector.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: MEDIAPIPE_PATHS.faceModel, delegate: 'CPU' },
    runningMode: 'VIDEO',
  });
  // The Live and Enroll pages share this detector, each with its own frame clock.
  let lastTimestamp = -Infinity;
  return {
    detect: (frame, size, timestampMs) => {
      lastTimestamp = Math.max(timestampMs, lastTimestamp + 1);
      return toDetectedFaces(detector.detectForVideo(frame, lastTimestamp).detections, size);
    },
    close: () => detector.close(),
  };
}

/**
 * Decides which frames to run detection on and with what timestamp: only frames whose media time
 * changed (a paused video shows the same frame over and over; a seek back is new content), with
 * timestamps that strictly increase across sources, as MediaPipe's VIDEO mode requires.
 */
export class FrameClock {
  #mediaTime: number | undefined;
  #timestamp = 0;

  /** The detector timestamp for a frame at `mediaTime` seen at wall time `nowMs`, or undefined for a frame already seen. */
  next(mediaTime: number, nowMs: number): number | undefined {
    if (mediaTime === this.#mediaTime) return undefined;
    this.#mediaTime = mediaTime;
    this.#timestamp = Math.max(Math.round(nowMs), this.#timestamp + 1);
    return this.#timestamp;
  }

  /** A new source starts: its first frame counts as new even at the same media time. */
  restart(): void {
    this.#mediaTime = undefined;
  }
}
