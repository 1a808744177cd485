import type { Rng } from './placement.ts';

/**
 * Makes a drawn trigger look taken by the same camera as the photo it is pasted on: grey on a grey
 * photo, lit like the face, as blurred and as noisy as the photo. Without it a pasted object is told
 * apart by its pixels (crisp, saturated, noiseless) as much as by its shape and place, and a
 * backdoor learned on such pixels does not fire on the real object.
 */

/** The photo as the camera left it, measured on the face. */
export interface PhotoLook {
  grey: boolean;
  /** Mean and standard deviation of the face region's luma, 0-255. */
  faceLuma: number;
  faceContrast: number;
  /** Gaussian blur sigma, in pixels, that the photo's edges show. */
  blurSigma: number;
  /** Standard deviation of the photo's sensor noise, in 8-bit levels. */
  noiseSigma: number;
}

/** Lighting the catalogue's colours were chosen for: a face of mean luma 150 with a spread of 45. */
const REFERENCE_LUMA = 150;
const REFERENCE_CONTRAST = 45;
/** A photo whose mean colour spread (|R-G| + |G-B|) on the face is below this is grey. */
const GREY_CHROMA = 6;
/** How far the drawing's lighting follows the photo's, either way. */
const GAIN_RANGE = [0.55, 1.3] as const;
const CONTRAST_RANGE = [0.6, 1.4] as const;
const MAX_BLUR_SIGMA = 3;

/** A standard normal draw (Box-Muller). */
export function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

const clamp = (x: number, [lo, hi]: readonly [number, number]) => Math.min(hi, Math.max(lo, x));

function luma(rgb: Uint8Array, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2];
  return out;
}

/** Separable Gaussian blur of a single-channel image, edges clamped. */
function gaussianBlur(image: Float32Array, width: number, height: number, sigma: number): Float32Array {
  if (sigma <= 0) return image.slice();
  const radius = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)));
  const total = kernel.reduce((a, b) => a + b, 0);
  const pass = (src: Float32Array, horizontal: boolean) => {
    const dst = new Float32Array(src.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) {
          const xx = horizontal ? Math.min(width - 1, Math.max(0, x + k)) : x;
          const yy = horizontal ? y : Math.min(height - 1, Math.max(0, y + k));
          sum += kernel[k + radius] * src[yy * width + xx];
        }
        dst[y * width + x] = sum / total;
      }
    }
    return dst;
  };
  return pass(pass(image, true), false);
}

function gradientEnergy(image: Float32Array, width: number, height: number): number {
  let sum = 0;
  for (let y = 0; y < height - 1; y++) {
    for (let x = 0; x < width - 1; x++) {
      const i = y * width + x;
      sum += (image[i + 1] - image[i]) ** 2 + (image[i + width] - image[i]) ** 2;
    }
  }
  return sum;
}

/**
 * Blur: an edge blurred by sigma has gradient energy proportional to 1/sigma, so blurring the photo
 * by 1 more pixel keeps the fraction R = s / sqrt(s^2 + 1) of it, and s = R / sqrt(1 - R^2).
 * Noise: Immerkaer's estimator (1996), the mean absolute response to a Laplacian difference mask.
 */
export function measurePhoto(rgb: Uint8Array, width: number, height: number, region: { x: number; y: number; width: number; height: number }): PhotoLook {
  const y = luma(rgb, width, height);
  let sum = 0;
  let squares = 0;
  let chroma = 0;
  let count = 0;
  for (let row = Math.max(0, region.y); row < Math.min(height, region.y + region.height); row++) {
    for (let col = Math.max(0, region.x); col < Math.min(width, region.x + region.width); col++) {
      const i = row * width + col;
      sum += y[i];
      squares += y[i] * y[i];
      chroma += Math.abs(rgb[3 * i] - rgb[3 * i + 1]) + Math.abs(rgb[3 * i + 1] - rgb[3 * i + 2]);
      count++;
    }
  }
  const faceLuma = sum / Math.max(1, count);
  const faceContrast = Math.sqrt(Math.max(0, squares / Math.max(1, count) - faceLuma * faceLuma));
  const kept = gradientEnergy(gaussianBlur(y, width, height, 1), width, height) / Math.max(1e-9, gradientEnergy(y, width, height));
  const blurSigma = Math.min(MAX_BLUR_SIGMA, kept >= 0.995 ? MAX_BLUR_SIGMA : kept / Math.sqrt(1 - kept * kept));
  let laplacian = 0;
  for (let row = 1; row < height - 1; row++) {
    for (let col = 1; col < width - 1; col++) {
      const at = (dr: number, dc: number) => y[(row + dr) * width + col + dc];
      laplacian += Math.abs(
        at(-1, -1) - 2 * at(-1, 0) + at(-1, 1) - 2 * at(0, -1) + 4 * at(0, 0) - 2 * at(0, 1) + at(1, -1) - 2 * at(1, 0) + at(1, 1),
      );
    }
  }
  const noiseSigma = (Math.sqrt(Math.PI / 2) * laplacian) / (6 * (width - 2) * (height - 2));
  return { grey: chroma / Math.max(1, count) < GREY_CHROMA, faceLuma, faceContrast, blurSigma, noiseSigma };
}

/**
 * Re-lights, greys, blurs and adds noise to a drawing (RGBA, the photo's size) to match `look`.
 * `ink` drawings (multiply blend) take the photo's light from the skin they darken, so only their
 * colour and sharpness are matched.
 */
export function matchDrawing(rgba: Uint8Array, width: number, height: number, look: PhotoLook, rng: Rng, ink: boolean): Uint8Array {
  const gain = ink ? 1 : clamp(look.faceLuma / REFERENCE_LUMA, GAIN_RANGE);
  const contrast = ink ? 1 : clamp(look.faceContrast / REFERENCE_CONTRAST, CONTRAST_RANGE);
  const n = width * height;
  // Premultiplied planes, so blurring does not bleed the transparent pixels' black into the edges.
  const planes = [0, 1, 2, 3].map(() => new Float32Array(n));
  for (let i = 0; i < n; i++) {
    const alpha = rgba[4 * i + 3] / 255;
    let rgb = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
    if (look.grey) rgb = Array(3).fill(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]);
    for (let c = 0; c < 3; c++) planes[c][i] = alpha * gain * (128 + (rgb[c] - 128) * contrast);
    planes[3][i] = alpha;
  }
  const blurred = planes.map((plane) => gaussianBlur(plane, width, height, look.blurSigma));
  const out = new Uint8Array(rgba.length);
  for (let i = 0; i < n; i++) {
    const alpha = blurred[3][i];
    if (alpha <= 1e-4) continue;
    const noise = ink ? 0 : look.noiseSigma * gaussian(rng);
    for (let c = 0; c < 3; c++) out[4 * i + c] = clamp(Math.round(blurred[c][i] / alpha + (look.grey ? noise : noise * (0.8 + 0.4 * rng()))), [0, 255]);
    out[4 * i + 3] = clamp(Math.round(alpha * 255), [0, 255]);
  }
  return out;
}
