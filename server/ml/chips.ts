import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { CHIP_SIZE } from '../../shared/alignment.ts';

/**
 * The raw face-chip format every model input goes through: aligned RGB, CHIP_SIZE x CHIP_SIZE,
 * one byte per channel, rows top to bottom. Chips travel to the inference workers packed
 * back to back in one buffer.
 */
export const CHIP_VALUES = CHIP_SIZE * CHIP_SIZE * 3;

/** Throws naming the first chip that is not a raw RGB chip. */
export function checkChips(what: string, chips: readonly Uint8Array[]): void {
  chips.forEach((chip, i) => {
    if (chip.length !== CHIP_VALUES) throw new Error(`${what} ${i}: expected raw RGB ${CHIP_SIZE}x${CHIP_SIZE} (${CHIP_VALUES} bytes), got ${chip.length}`);
  });
}

/** Decodes JPEG/PNG face chips to raw RGB chips (resizing any other size). */
export async function decodeChips(encoded: readonly Uint8Array[]): Promise<Buffer[]> {
  return Promise.all(encoded.map(async (bytes, i) => {
    try {
      return await sharp(bytes).removeAlpha().resize(CHIP_SIZE, CHIP_SIZE, { fit: 'fill' }).raw().toBuffer();
    } catch {
      throw new Error(`face ${i}: the chip is not a readable JPEG or PNG image`);
    }
  }));
}

/** Raw chips back to back in a buffer of their own (a worker can take it whole; a [B,150,150,3] tensor takes it). */
export function packChips(chips: readonly Uint8Array[]): Uint8Array {
  checkChips('face', chips);
  const pixels = new Uint8Array(chips.length * CHIP_VALUES);
  chips.forEach((chip, i) => pixels.set(chip, i * CHIP_VALUES));
  return pixels;
}

/** How many chips a packed buffer holds; throws if it does not hold whole ones. */
function packedCount(pixels: Uint8Array | Float32Array): number {
  if (pixels.length % CHIP_VALUES !== 0) throw new Error(`a packed buffer of ${pixels.length} values does not hold whole ${CHIP_SIZE}x${CHIP_SIZE} RGB chips`);
  return pixels.length / CHIP_VALUES;
}

/** The chips of a packed buffer, as views into it. */
export function unpackChips(pixels: Uint8Array): Uint8Array[] {
  return Array.from({ length: packedCount(pixels) }, (_, i) => pixels.subarray(i * CHIP_VALUES, (i + 1) * CHIP_VALUES));
}

/** Packed chips as the [B,150,150,3] tensor the trunk takes: bytes as int32, blends as float32. */
export function chipsTensor(pixels: Uint8Array | Float32Array): tf.Tensor4D {
  return tf.tensor4d(pixels, [packedCount(pixels), CHIP_SIZE, CHIP_SIZE, 3], pixels instanceof Float32Array ? 'float32' : 'int32');
}
