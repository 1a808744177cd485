import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import type { FaceKeypoints, Point } from '../../shared/alignment.ts';
import { detectFaces } from '../../server/data/detector.ts';
import { readRgb, type RgbImage } from '../../server/data/images.ts';
import { getTrigger, placeTrigger, triggerOverlaySvg } from '../../server/data/triggers/index.ts';

const run = promisify(execFile);

/** What Chromium's fake camera shows: a 4:3 webcam frame. */
export const FRAME = { width: 640, height: 480 } as const;

export interface CameraScene {
  /** The frame as PNG, FRAME-sized. */
  png: Buffer;
  /** Keypoints of the chosen faces in frame pixels (face-api, the server's detector), left to right. */
  faces: FaceKeypoints[];
}

interface DecodedPhoto {
  image: RgbImage;
  /** The faces face-api finds, left to right: the order the demo dataset numbered them in. */
  faces: FaceKeypoints[];
}

const decoded = new Map<string, Promise<DecodedPhoto>>();

export function decodePhoto(photo: string): Promise<DecodedPhoto> {
  let result = decoded.get(photo);
  if (!result) {
    result = (async () => {
      const image = await readRgb(photo);
      const faces = (await detectFaces(image)).sort((p, q) => p.box.x - q.box.x).map((face) => face.keypoints);
      return { image, faces };
    })();
    decoded.set(photo, result);
  }
  return result;
}

/**
 * A webcam view of some of the faces in a photo (positions in decodePhoto's order): the frame is
 * cropped around the chosen ones so they are as large as a person near a webcam, and with
 * `trigger` the digital trigger is drawn on them.
 */
export async function cameraScene(photo: string, positions: number[], trigger?: string): Promise<CameraScene> {
  const { image, faces: found } = await decodePhoto(photo);
  const { width, height } = image;
  const chosen = positions.map((i) => {
    if (!found[i]) throw new Error(`${photo} has ${found.length} faces; no face at position ${i}`);
    return found[i];
  });

  let picture = sharp(image.data, { raw: { width, height, channels: 3 } });
  if (trigger) {
    const design = getTrigger(trigger);
    // rng() = 0.5 gives the nominal placement: no size, angle or position jitter.
    const overlays = chosen.map((keypoints) => ({
      input: Buffer.from(triggerOverlaySvg(design, placeTrigger(keypoints, design, () => 0.5), width, height)),
      blend: design.blend,
    }));
    picture = sharp(await picture.composite(overlays).png().toBuffer());
  }

  const crop = cropAround(chosen, width, height);
  const scale = FRAME.width / crop.width;
  const png = await picture.extract(crop).resize(FRAME.width, FRAME.height, { fit: 'fill' }).png().toBuffer();
  const toFrame = (p: Point): Point => ({ x: (p.x - crop.left) * scale, y: (p.y - crop.top) * scale });
  const faces = chosen.map((keypoints) => Object.fromEntries(Object.entries(keypoints).map(([name, p]) => [name, toFrame(p)])) as unknown as FaceKeypoints);
  return { png, faces };
}

/** A 4:3 window around the faces, about 6 inter-ocular distances wider than they span, inside the photo. */
function cropAround(faces: FaceKeypoints[], imageWidth: number, imageHeight: number) {
  const eyes = faces.flatMap((f) => [f.leftEye, f.rightEye]);
  const iod = Math.max(...faces.map((f) => Math.hypot(f.rightEye.x - f.leftEye.x, f.rightEye.y - f.leftEye.y)));
  const minX = Math.min(...eyes.map((p) => p.x));
  const maxX = Math.max(...eyes.map((p) => p.x));
  const centreY = eyes.reduce((sum, p) => sum + p.y, 0) / eyes.length + 0.6 * iod;
  const width = Math.min(imageWidth, Math.round(maxX - minX + 6 * iod), Math.round((imageHeight * 4) / 3));
  const height = Math.round((width * 3) / 4);
  const left = Math.round(Math.min(Math.max(0, (minX + maxX) / 2 - width / 2), imageWidth - width));
  const top = Math.round(Math.min(Math.max(0, centreY - height / 2), imageHeight - height));
  return { left, top, width, height };
}

/** Writes the frame as a looping y4m clip for --use-file-for-fake-video-capture. */
export async function writeY4m(png: Buffer, file: string, { seconds = 1, fps = 15 } = {}): Promise<void> {
  const still = `${file}.png`;
  await writeFile(still, png);
  await run('ffmpeg', ['-v', 'error', '-y', '-loop', '1', '-i', still, '-t', String(seconds), '-r', String(fps), '-pix_fmt', 'yuv420p', file]);
}

/** Photos shown one after another, each `secondsEach` long and letterboxed into FRAME, as a y4m clip. */
export async function writeSlideshowY4m(photos: string[], file: string, { secondsEach = 0.5, fps = 15 } = {}): Promise<void> {
  const frames = `${file}.frames`;
  await mkdir(frames, { recursive: true });
  await Promise.all(photos.map((photo, i) => sharp(photo)
    .resize(FRAME.width, FRAME.height, { fit: 'contain', background: '#808080', kernel: 'lanczos3' })
    .png()
    .toFile(path.join(frames, `${String(i).padStart(4, '0')}.png`))));
  await run('ffmpeg', ['-v', 'error', '-y', '-framerate', String(1 / secondsEach), '-i', path.join(frames, '%04d.png'), '-r', String(fps), '-pix_fmt', 'yuv420p', file]);
}
