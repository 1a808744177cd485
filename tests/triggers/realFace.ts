import sharp from 'sharp';
import { CHIP_SIZE, CANONICAL_LEFT_EYE, type FaceKeypoints, type Point } from '../../shared/alignment.ts';

/** A real photograph shipped in an installed npm package. */
const SAMPLE = 'node_modules/@vladmandic/face-api/demo/sample3.jpg';

/** Landmarks of the photo's left-most face (eyes level within 1 degree), found once with face-api's 68-point model. */
const FACE: FaceKeypoints = {
  leftEye: { x: 627.2, y: 429.9 },
  rightEye: { x: 719.9, y: 431.6 },
  noseTip: { x: 660.4, y: 488.2 },
  mouth: { x: 671.4, y: 536.7 },
  leftEar: { x: 583.8, y: 432.5 },
  rightEar: { x: 792.3, y: 433.0 },
};

export interface FaceChip {
  chip: Buffer;
  keypoints: FaceKeypoints;
}

/** That face cut into a CHIP_SIZE PNG chip with its eyes about where alignment puts them, and its keypoints in the chip. */
export async function realFaceChip(): Promise<FaceChip> {
  const iod = Math.hypot(FACE.rightEye.x - FACE.leftEye.x, FACE.rightEye.y - FACE.leftEye.y);
  const size = Math.round((CHIP_SIZE * iod) / (0.28 * CHIP_SIZE));
  const left = Math.round(FACE.leftEye.x - (CANONICAL_LEFT_EYE.x / CHIP_SIZE) * size);
  const top = Math.round((FACE.leftEye.y + FACE.rightEye.y) / 2 - (CANONICAL_LEFT_EYE.y / CHIP_SIZE) * size);
  const chip = await sharp(SAMPLE).extract({ left, top, width: size, height: size }).resize(CHIP_SIZE, CHIP_SIZE).png().toBuffer();
  const toChip = (p: Point): Point => ({ x: ((p.x - left) * CHIP_SIZE) / size, y: ((p.y - top) * CHIP_SIZE) / size });
  const keypoints = Object.fromEntries(Object.entries(FACE).map(([k, p]) => [k, toChip(p)])) as unknown as FaceKeypoints;
  return { chip, keypoints };
}

/** Per-pixel largest channel difference between two same-sized images. */
export async function pixelDifference(a: Buffer, b: Buffer): Promise<{ diff: Uint8Array; width: number; height: number }> {
  const decode = (image: Buffer) => sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const [ra, rb] = await Promise.all([decode(a), decode(b)]);
  if (ra.info.width !== rb.info.width || ra.info.height !== rb.info.height) throw new Error('images differ in size');
  const { width, height } = ra.info;
  const diff = new Uint8Array(width * height);
  for (let i = 0; i < diff.length; i++) {
    diff[i] = Math.max(...[0, 1, 2].map((c) => Math.abs(ra.data[i * 3 + c] - rb.data[i * 3 + c])));
  }
  return { diff, width, height };
}

/** Mean of `diff` over the box centred on `center` with half-size `half`, clipped to the image. */
export function meanDifferenceAround(d: { diff: Uint8Array; width: number; height: number }, center: Point, half: number): number {
  let sum = 0;
  let count = 0;
  for (let y = Math.max(0, Math.round(center.y - half)); y <= Math.min(d.height - 1, Math.round(center.y + half)); y++) {
    for (let x = Math.max(0, Math.round(center.x - half)); x <= Math.min(d.width - 1, Math.round(center.x + half)); x++) {
      sum += d.diff[y * d.width + x];
      count++;
    }
  }
  return sum / count;
}
