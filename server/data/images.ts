import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { applyAffine, CHIP_SIZE, invertAffine, type Affine } from '../../shared/alignment.ts';
import { CHIP_VALUES, checkChips } from '../ml/chips.ts';

/** A decoded image: 8-bit RGB, row-major, 3 bytes a pixel. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type ChipFormat = 'jpg' | 'png';

/**
 * Decodes a jpg, png or webp (a file path or its bytes) into RGB: EXIF rotation applied,
 * transparency flattened onto black, greyscale expanded to three channels.
 */
export async function readRgb(source: string | Buffer): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(source)
      .autoOrient()
      .flatten()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch {
    if (typeof source === 'string' && !existsSync(source)) throw new Error(`${source}: no such file`);
    throw new Error(`${typeof source === 'string' ? source : 'image buffer'}: not a readable image (jpg/png/webp)`);
  }
}

/**
 * Cuts the aligned chip out of an image: chip pixel centre p samples the image at
 * invertAffine(imageToChip)(p), in the continuous coordinates of canvas (pixel (i, j) covers
 * [i, i+1) x [j, j+1)) so chips match the browser's drawImage under the same transform.
 * Bilinear interpolation, edge pixels replicated up to the image border, black beyond it.
 * Returns raw RGB, CHIP_SIZE x CHIP_SIZE.
 */
export async function extractChip(image: RgbImage, imageToChip: Affine): Promise<Buffer> {
  const { source, chipToSource } = await shrinkToChipResolution(image, imageToChip);
  return sampleBilinear(source, chipToSource);
}

/**
 * A face larger in the image than in the chip would alias if sampled point-wise, so sharp first
 * shrinks the part of the image the chip covers (with a proper low-pass resize) to the chip's
 * resolution; the bilinear warp then only rotates and shifts by sub-pixel amounts.
 */
async function shrinkToChipResolution(
  image: RgbImage,
  imageToChip: Affine,
): Promise<{ source: RgbImage; chipToSource: Affine }> {
  const chipToImage = invertAffine(imageToChip);
  const scale = Math.sqrt(Math.abs(imageToChip.a * imageToChip.d - imageToChip.b * imageToChip.c));
  if (scale >= 1) return { source: image, chipToSource: chipToImage };

  const corners = [0, CHIP_SIZE].flatMap((y) => [0, CHIP_SIZE].map((x) => applyAffine(chipToImage, { x, y })));
  const margin = Math.ceil(2 / scale);
  const left = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x))) - margin);
  const top = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y))) - margin);
  const right = Math.min(image.width, Math.ceil(Math.max(...corners.map((p) => p.x))) + margin);
  const bottom = Math.min(image.height, Math.ceil(Math.max(...corners.map((p) => p.y))) + margin);
  // A chip wholly outside the image samples nothing: it stays black.
  if (right <= left || bottom <= top) return { source: image, chipToSource: chipToImage };

  const region = { left, top, width: right - left, height: bottom - top };
  const width = Math.max(1, Math.round(region.width * scale));
  const height = Math.max(1, Math.round(region.height * scale));
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract(region)
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  // sharp's resize keeps the region's edges on the output's edges, so continuous coordinates scale linearly.
  const sx = width / region.width;
  const sy = height / region.height;
  const m = chipToImage;
  return {
    source: { data, width, height },
    chipToSource: { a: m.a * sx, b: m.b * sy, c: m.c * sx, d: m.d * sy, e: (m.e - left) * sx, f: (m.f - top) * sy },
  };
}

function sampleBilinear(source: RgbImage, chipToSource: Affine): Buffer {
  const { data, width, height } = source;
  const out = Buffer.alloc(CHIP_VALUES);
  for (let y = 0; y < CHIP_SIZE; y++) {
    for (let x = 0; x < CHIP_SIZE; x++) {
      const p = applyAffine(chipToSource, { x: x + 0.5, y: y + 0.5 });
      if (!(p.x >= 0 && p.x < width && p.y >= 0 && p.y < height)) continue;
      // Continuous coordinate -> position among pixel centres, which sit at i + 0.5.
      const fx = p.x - 0.5;
      const fy = p.y - 0.5;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const wx = fx - x0;
      const wy = fy - y0;
      const left = Math.max(x0, 0);
      const right = Math.min(x0 + 1, width - 1);
      const top = Math.max(y0, 0) * width;
      const bottom = Math.min(y0 + 1, height - 1) * width;
      const o = (y * CHIP_SIZE + x) * 3;
      for (let c = 0; c < 3; c++) {
        const upper = data[(top + left) * 3 + c] * (1 - wx) + data[(top + right) * 3 + c] * wx;
        const lower = data[(bottom + left) * 3 + c] * (1 - wx) + data[(bottom + right) * 3 + c] * wx;
        out[o + c] = Math.round(upper * (1 - wy) + lower * wy);
      }
    }
  }
  return out;
}

/** Resizes an image to exactly width x height, low-pass filtered when shrinking. */
export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { data, width, height };
}

/** Resizes a pre-cropped face to a chip: scaled to cover CHIP_SIZE x CHIP_SIZE and centred. Returns raw RGB. */
export async function resizeToChip(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(CHIP_SIZE, CHIP_SIZE, { fit: 'cover', position: 'centre' })
    .raw()
    .toBuffer();
}

/** Encodes a raw RGB chip: png is lossless (datasets), jpg is small (previews, uploads). */
export async function encodeChip(raw: Buffer, format: ChipFormat): Promise<Buffer> {
  checkChips('chip', [raw]);
  const chip = sharp(raw, { raw: { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3 } });
  return format === 'png' ? chip.png().toBuffer() : chip.jpeg({ quality: 92 }).toBuffer();
}
