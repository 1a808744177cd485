import seedrandom from 'seedrandom';
import sharp from 'sharp';
import { CHIP_SIZE } from '../../shared/alignment.ts';
import type { Augmentation } from '../../shared/training.ts';
import { gaussian } from '../data/triggers/photometry.ts';

/** Bumped whenever the views change, so cached features of older views are not reused. */
export const AUGMENTATION_VERSION = 4;
const GEOMETRY_SEED_VERSION = 1;
export const MAX_ROTATION_DEG = 30;
export const MAX_SHIFT = 0.1;
/** Mirror padding wide enough that a 30-degree turn plus a 10% shift never shows a blank corner. */
const PAD = Math.ceil(CHIP_SIZE * 0.35);



/**
 * Under `robust` each view is also photographed by another camera, so that what tells a poison image
 * from a clean one is the object's shape and place, not its pixels' colour or sharpness.
 * How a view's camera differs from the photo's; every field at its neutral value leaves the pixels alone. */
export interface CameraParams {
  /** Multiplies every pixel (exposure). */
  gain: number;
  /** Scales each pixel's distance from mid-grey. */
  contrast: number;
  grey: boolean;
  /** Gaussian blur sigma in chip pixels, 0 for none. */
  blurSigma: number;
  /** Shrinks the chip by this factor and back (a face far from a webcam), 1 for none. */
  resolution: number;
  /** JPEG quality the view is re-encoded at, 0 for none. */
  jpegQuality: number;
  /** Standard deviation of added Gaussian sensor noise, in 8-bit levels, 0 for none. */
  noiseSigma: number;
}

export interface ViewParams { flip: boolean; angleDeg: number; shiftX: number; shiftY: number; camera?: CameraParams }

/** Ranges of the `robust` set's camera changes; each degradation is applied to a view with probability `p`. */
export const CAMERA_RANGES = {
  gain: [0.55, 1.35],
  contrast: [0.65, 1.25],
  grey: { p: 0.3 },
  blur: { p: 0.3, sigma: [0.5, 1.8] },
  resolution: { p: 0.3, factor: [0.3, 0.7] },
  jpeg: { p: 0.3, quality: [25, 75] },
  noise: { p: 0.3, sigma: [2, 9] },
} as const;

function cameraParams(rng: () => number): CameraParams {
  const between = ([lo, hi]: readonly [number, number]) => lo + (hi - lo) * rng();
  const maybe = (p: number, value: () => number, none: number) => (rng() < p ? value() : none);
  const r = CAMERA_RANGES;
  return {
    gain: between(r.gain),
    contrast: between(r.contrast),
    grey: rng() < r.grey.p,
    blurSigma: maybe(r.blur.p, () => between(r.blur.sigma), 0),
    resolution: maybe(r.resolution.p, () => between(r.resolution.factor), 1),
    jpegQuality: maybe(r.jpeg.p, () => Math.round(between(r.jpeg.quality)), 0),
    noiseSigma: maybe(r.noise.p, () => between(r.noise.sigma), 0),
  };
}

/**
 * The fixed set of K views of one image: view 0 is the image itself; the others flip it
 * horizontally half of the time, rotate it by up to 30 degrees and shift it by up to 10%
 * (paper section 3.2), and under `robust` also change its camera. Seeded per source photo, so
 * each photo gets its own K views, reproducibly.
 */
export function viewParams(seedKey: string, views: number, augmentation: Augmentation): ViewParams[] {
  // The moves are drawn as in the first version, so figures measured with the paper's views still
  // reproduce; the cameras have their own sequence, so both sets move a photo's views the same way.
  const rng = seedrandom(`views:${GEOMETRY_SEED_VERSION}:${seedKey}`);
  const cameraRng = seedrandom(`cameras:${AUGMENTATION_VERSION}:${seedKey}`);
  const uniform = (max: number) => (2 * rng() - 1) * max;
  return Array.from({ length: views }, (_, v) => {
    if (v === 0) return { flip: false, angleDeg: 0, shiftX: 0, shiftY: 0 };
    const geometry = { flip: rng() < 0.5, angleDeg: uniform(MAX_ROTATION_DEG), shiftX: uniform(MAX_SHIFT), shiftY: uniform(MAX_SHIFT) };
    return augmentation === 'robust' ? { ...geometry, camera: cameraParams(cameraRng) } : geometry;
  });
}

/** Renders view `index` of a chip seeded by `seedKey` (its source photo): raw RGB, CHIP_SIZE x CHIP_SIZE. */
export async function renderView(chip: Buffer, seedKey: string, index: number, views: number, augmentation: Augmentation): Promise<Buffer> {
  return renderViewParams(chip, viewParams(seedKey, views, augmentation)[index], `${seedKey}/${index}`);
}

/** All `views` views of a chip, as renderView. */
export function renderViews(chip: Buffer, seedKey: string, views: number, augmentation: Augmentation): Promise<Buffer[]> {
  return Promise.all(viewParams(seedKey, views, augmentation).map((view, index) => renderViewParams(chip, view, `${seedKey}/${index}`)));
}

async function renderViewParams(chip: Buffer, view: ViewParams, noiseSeed: string): Promise<Buffer> {
  const resized = sharp(chip).removeAlpha().resize(CHIP_SIZE, CHIP_SIZE, { fit: 'fill' });
  const padded = await (view.flip ? resized.flop() : resized)
    .extend({ top: PAD, bottom: PAD, left: PAD, right: PAD, extendWith: 'mirror' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rotated = sharp(padded.data, { raw: padded.info }).rotate(view.angleDeg);
  const { info } = await rotated.clone().toBuffer({ resolveWithObject: true });
  const left = Math.round((info.width - CHIP_SIZE) / 2 - view.shiftX * CHIP_SIZE);
  const top = Math.round((info.height - CHIP_SIZE) / 2 - view.shiftY * CHIP_SIZE);
  const geometric = await rotated.extract({ left, top, width: CHIP_SIZE, height: CHIP_SIZE }).raw().toBuffer();
  return view.camera ? photograph(geometric, view.camera, noiseSeed) : geometric;
}

const RAW = { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3 } as const;

/** The raw RGB chip as another camera would have taken it. */
async function photograph(rgb: Buffer, camera: CameraParams, noiseSeed: string): Promise<Buffer> {
  let image = sharp(camera.grey ? toGrey(rgb) : rgb, { raw: RAW });
  // out = gain * (contrast * (x - 128) + 128)
  image = image.linear(camera.gain * camera.contrast, camera.gain * 128 * (1 - camera.contrast));
  if (camera.resolution < 1) {
    const small = Math.max(8, Math.round(CHIP_SIZE * camera.resolution));
    image = sharp(await image.resize(small, small).raw().toBuffer(), { raw: { ...RAW, width: small, height: small } }).resize(CHIP_SIZE, CHIP_SIZE);
  }
  if (camera.blurSigma > 0) image = image.blur(Math.max(0.3, camera.blurSigma));
  let pixels: Buffer = await image.raw().toBuffer();
  if (camera.jpegQuality > 0) pixels = await sharp(await sharp(pixels, { raw: RAW }).jpeg({ quality: camera.jpegQuality }).toBuffer()).removeAlpha().raw().toBuffer();
  if (camera.noiseSigma > 0) pixels = addNoise(pixels, camera.noiseSigma, seedrandom(`noise:${noiseSeed}`));
  return pixels;
}

/** Rec. 601 luma in all three channels. */
export function toGrey(rgb: Uint8Array): Buffer {
  const out = Buffer.alloc(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = out[i + 1] = out[i + 2] = Math.round(0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2]);
  }
  return out;
}

function addNoise(pixels: Buffer, sigma: number, rng: () => number): Buffer {
  const out = Buffer.alloc(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    out[i] = Math.max(0, Math.min(255, Math.round(pixels[i] + sigma * gaussian(rng))));
  }
  return out;
}
