import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { matchDrawing, measurePhoto } from '../../server/data/triggers/photometry.ts';
import { seededRng } from '../../server/data/triggers/index.ts';
import { toGrey } from '../../server/train/augment.ts';
import { samplePhotos } from '../../server/train/demoPair.ts';

const SIZE = 150;
const WHOLE = { x: 0, y: 0, width: SIZE, height: SIZE };

async function photo(edit: (image: Sharp) => Sharp = (i) => i): Promise<Uint8Array> {
  const base = await sharp(samplePhotos()[1]).resize(SIZE, SIZE).removeAlpha().raw().toBuffer();
  return edit(sharp(base, { raw: { width: SIZE, height: SIZE, channels: 3 } })).removeAlpha().raw().toBuffer();
}

function withNoise(rgb: Uint8Array, sigma: number): Uint8Array {
  const rng = seededRng('noise');
  return rgb.map((v) => Math.max(0, Math.min(255, Math.round(v + sigma * Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng())))));
}

describe('matching a pasted trigger to the photo', () => {
  it('measures a photo as the camera left it: grey, light, blur and noise', async () => {
    const colour = measurePhoto(await photo(), SIZE, SIZE, WHOLE);
    const grey = measurePhoto(toGrey(await photo()), SIZE, SIZE, WHOLE);
    expect(colour.grey).toBe(false);
    expect(grey.grey).toBe(true);
    const dark = measurePhoto(await photo((i) => i.linear(0.5, 0)), SIZE, SIZE, WHOLE);
    expect(dark.faceLuma).toBeCloseTo(colour.faceLuma / 2, -0.5);
    const blurred = measurePhoto(await photo((i) => i.blur(2)), SIZE, SIZE, WHOLE);
    expect(blurred.blurSigma).toBeGreaterThan(colour.blurSigma + 0.8);
    const smooth = await photo((i) => i.blur(1.5));
    const noisy = measurePhoto(withNoise(smooth, 8), SIZE, SIZE, WHOLE);
    expect(noisy.noiseSigma).toBeGreaterThan(measurePhoto(smooth, SIZE, SIZE, WHOLE).noiseSigma + 4);
  });

  it('greys, re-lights and blurs a drawing to the photo, leaving the transparent pixels alone', () => {
    const drawing = new Uint8Array(SIZE * SIZE * 4);
    // A crisp opaque red square in the middle.
    for (let y = 60; y < 90; y++) for (let x = 60; x < 90; x++) drawing.set([200, 30, 30, 255], 4 * (y * SIZE + x));
    const look = { grey: true, faceLuma: 75, faceContrast: 45, blurSigma: 1.5, noiseSigma: 0 };
    const matched = matchDrawing(drawing, SIZE, SIZE, look, seededRng(1), false);
    const at = (x: number, y: number) => [...matched.slice(4 * (y * SIZE + x), 4 * (y * SIZE + x) + 4)];
    const [r, g, b, a] = at(75, 75);
    expect(r).toBe(g);
    expect(g).toBe(b);
    expect(a).toBe(255);
    // Half the reference light: the square's luma (about 78) is pulled towards a darker grey.
    expect(r).toBeLessThan(70);
    // The edge is soft now, and a pixel far away stays transparent.
    expect(at(59, 75)[3]).toBeGreaterThan(0);
    expect(at(59, 75)[3]).toBeLessThan(255);
    expect(at(10, 10)[3]).toBe(0);
  });
});
