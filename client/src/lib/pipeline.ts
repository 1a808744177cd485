import { cutChips } from './chip.ts';
import { FrameClock, type DetectedFace, type FaceFinder, type Size } from './detector.ts';
import type { FrameStream } from './stream.ts';
import type { FacesStore } from './stores/faces.svelte.ts';
import type { StatsStore } from './stores/stats.svelte.ts';

/** Calls `onFrame` for every frame the video presents until the returned function is called. */
export function followVideoFrames(video: HTMLVideoElement, onFrame: (size: Size, mediaTime: number) => void): () => void {
  let handle = 0;
  const next = (_now: number, frame: VideoFrameCallbackMetadata) => {
    handle = video.requestVideoFrameCallback(next);
    // The size drawImage uses for the video, so keypoints and chip crops share one coordinate system.
    onFrame({ width: video.videoWidth, height: video.videoHeight }, frame.mediaTime);
  };
  handle = video.requestVideoFrameCallback(next);
  return () => video.cancelVideoFrameCallback(handle);
}

/** Detects the faces in every new frame of the video until the returned function is called (the Enroll page's capture). */
export function detectEachFrame(video: HTMLVideoElement, finder: FaceFinder, onFaces: (faces: DetectedFace[], nowMs: number) => void): () => void {
  const clock = new FrameClock();
  return followVideoFrames(video, (size, mediaTime) => {
    const nowMs = performance.now();
    const timestamp = clock.next(mediaTime, nowMs);
    if (timestamp === undefined || size.width === 0 || size.height === 0) return;
    onFaces(finder.detect(video, size, timestamp), nowMs);
  });
}

export interface PipelineParts {
  finder: FaceFinder;
  stream: FrameStream;
  faces: FacesStore;
  stats: StatsStore;
}

/**
 * Frame in, faces out: detect faces in each new frame, show their boxes at once, cut their aligned
 * chips and hand them to the stream, which sends the newest when the server is free.
 */
export class Pipeline {
  #clock = new FrameClock();
  #nextFrameId = 0;
  #newestSent = -1;
  #parts: PipelineParts;

  constructor(parts: PipelineParts) {
    this.#parts = parts;
  }

  /** Analyses every new frame the video presents until the returned function is called. */
  followVideo(video: HTMLVideoElement): () => void {
    this.#clock.restart();
    return followVideoFrames(video, (size, mediaTime) => this.#analyse(video, size, mediaTime));
  }

  /** Analyses a still image once. */
  analyseImage(image: HTMLImageElement): void {
    this.#clock.restart();
    this.#analyse(image, { width: image.naturalWidth, height: image.naturalHeight }, 0);
  }

  #analyse(frame: HTMLVideoElement | HTMLImageElement, size: Size, mediaTime: number): void {
    const capturedAt = performance.now();
    const timestamp = this.#clock.next(mediaTime, capturedAt);
    if (timestamp === undefined || size.width === 0 || size.height === 0) return;
    const { finder, stream, faces, stats } = this.#parts;
    const found = finder.detect(frame, size, timestamp);
    faces.detected(size, found);
    stats.frameAnalysed(capturedAt);
    if (found.length === 0) return;

    const frameId = this.#nextFrameId++;
    cutChips(frame, found).then((chips) => {
      // Encoding is asynchronous: a later frame may have been sent already.
      if (frameId < this.#newestSent) return;
      this.#newestSent = frameId;
      stream.send({ frameId, capturedAt, faces: found.map((face, i) => ({ box: face.box, chip: chips[i] })) });
    }, (error: Error) => faces.answered({ ok: false, frameId, error: `could not cut the face chips: ${error.message}` }));
  }
}
