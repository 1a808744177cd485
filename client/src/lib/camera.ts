/** Webcam access: the camera list, opening one, and what to tell the presenter when it fails. */

export interface Camera {
  deviceId: string;
  label: string;
}

export type CameraProblemKind = 'unsupported' | 'no-camera' | 'permission-denied' | 'camera-busy' | 'failed';

export class CameraProblem extends Error {
  constructor(
    readonly kind: CameraProblemKind,
    message: string,
  ) {
    super(message);
  }
}

/** The video inputs; labels are empty until the page has camera permission. */
export async function listCameras(): Promise<Camera[]> {
  const devices = await navigator.mediaDevices.enumerateDevices();
  return devices
    .filter((device) => device.kind === 'videoinput')
    .map((device, i) => ({ deviceId: device.deviceId, label: device.label || `Camera ${i + 1}` }));
}

export async function openCamera(deviceId?: string): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new CameraProblem('unsupported', 'This browser gives camera access only to pages on localhost or HTTPS. Open the page that way, or use a video file or an image.');
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { deviceId: deviceId ? { exact: deviceId } : undefined, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (error) {
    throw describeCameraError(error);
  }
}

export function describeCameraError(error: unknown): CameraProblem {
  const name = error instanceof DOMException ? error.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new CameraProblem('permission-denied', 'Camera permission was denied. Allow the camera for this page in the browser’s site settings, then press Retry.');
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new CameraProblem('no-camera', 'No camera found. Connect a camera and press Retry, or open a video file or an image.');
    case 'NotReadableError':
    case 'AbortError':
      return new CameraProblem('camera-busy', 'The camera is in use by another application. Close it and press Retry.');
    default:
      return new CameraProblem('failed', `The camera could not be opened: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function stopCamera(stream: MediaStream | undefined): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
