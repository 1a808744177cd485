import { cutChips } from './chip.ts';
import { FrameClock, type FaceFinder, type Size } from './detector.ts';
import type { FrameStream } from './stream.ts';
import type { FacesStore } from './stores/faces.svelte.ts';
import type { StatsStore } from './stores/stats.svelte.ts';

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
    let handle = 0;
    const onFrame = (_now: number, frame: VideoFrameCallbackMetadata) => {
      handle = video.requestVideoFrameCallback(onFrame);
      // The size drawImage uses for the video, so keypoints and chip crops share one coordinate system.
      this.#analyse(video, { width: video.videoWidth, height: video.videoHeight }, frame.mediaTime);
    };
    handle = video.requestVideoFrameCallback(onFrame);
    return () => video.cancelVideoFrameCallback(handle);
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
