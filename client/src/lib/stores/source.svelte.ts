import { CameraProblem, describeCameraError, listCameras, openCamera, stopCamera, type Camera } from '../camera.ts';

export type SourceKind = 'camera' | 'video' | 'image';

/** What the page analyses: the webcam (mirrored, like a mirror), or a video file or image the presenter opened. */
export class SourceStore {
  kind = $state<SourceKind>('camera');
  cameras = $state<Camera[]>([]);
  cameraId = $state<string>();
  stream = $state.raw<MediaStream>();
  /** Object URL of the opened video file or image. */
  fileUrl = $state<string>();
  fileName = $state<string>();
  problem = $state.raw<CameraProblem>();
  opening = $state(false);
  mirrored = $derived(this.kind === 'camera');
  #attempt = 0;

  async useCamera(deviceId?: string): Promise<void> {
    const attempt = this.#switchTo('camera');
    this.opening = true;
    try {
      const stream = await openCamera(deviceId);
      if (attempt !== this.#attempt) return stopCamera(stream);
      this.stream = stream;
      this.cameraId = stream.getVideoTracks()[0]?.getSettings().deviceId;
      // Labels are only readable once permission is granted.
      this.cameras = await listCameras();
    } catch (error) {
      if (attempt === this.#attempt) this.problem = error instanceof CameraProblem ? error : describeCameraError(error);
    } finally {
      if (attempt === this.#attempt) this.opening = false;
    }
  }

  useFile(kind: 'video' | 'image', file: File): void {
    this.#switchTo(kind);
    this.fileUrl = URL.createObjectURL(file);
    this.fileName = file.name;
  }

  #switchTo(kind: SourceKind): number {
    stopCamera(this.stream);
    if (this.fileUrl) URL.revokeObjectURL(this.fileUrl);
    this.stream = undefined;
    this.fileUrl = undefined;
    this.fileName = undefined;
    this.problem = undefined;
    this.opening = false;
    this.kind = kind;
    return ++this.#attempt;
  }
}
