import { alignmentTransform, CHIP_SIZE, type FaceKeypoints } from '../../../shared/alignment.ts';
import { greyFromRgba, type GreyImage } from './captureFilter.ts';

const JPEG_QUALITY = 0.9;

/**
 * Draws a face's aligned chip with the shared alignment rule (the one the server used to cut the
 * training chips); outside the frame stays black, as on the server.
 */
export function drawChip(frame: CanvasImageSource, keypoints: FaceKeypoints): OffscreenCanvas {
  const canvas = new OffscreenCanvas(CHIP_SIZE, CHIP_SIZE);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on an OffscreenCanvas');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, CHIP_SIZE, CHIP_SIZE);
  const m = alignmentTransform(keypoints.leftEye, keypoints.rightEye);
  ctx.setTransform(m.a, m.b, m.c, m.d, m.e, m.f);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(frame, 0, 0);
  return canvas;
}

export async function encodeChip(canvas: OffscreenCanvas): Promise<Uint8Array<ArrayBuffer>> {
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY });
  return new Uint8Array(await blob.arrayBuffer());
}

/** The chip's grey pixels, to judge it before it is sent. */
export function greyOfChip(canvas: OffscreenCanvas): GreyImage {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on an OffscreenCanvas');
  return greyFromRgba(ctx.getImageData(0, 0, CHIP_SIZE, CHIP_SIZE).data, CHIP_SIZE, CHIP_SIZE);
}

/**
 * JPEG chips of the faces in the frame on screen now. Every chip is drawn before the first
 * await, while the video element still shows the frame the faces were found in.
 */
export async function cutChips(frame: CanvasImageSource, faces: { keypoints: FaceKeypoints }[]): Promise<Uint8Array[]> {
  const canvases = faces.map((face) => drawChip(frame, face.keypoints));
  return Promise.all(canvases.map(encodeChip));
}
