import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { samplePhotos } from '../../server/train/demoPair.ts';

/** sample1.jpg: a group photo of three people. */
export function groupPhoto(): Promise<Buffer> {
  return readFile(samplePhotos()[0]);
}

/** The person on the right of sample1.jpg cut out alone (eyes about 85 px apart). */
export async function onePersonPhoto(): Promise<Buffer> {
  return sharp(await groupPhoto()).extract({ left: 1300, top: 0, width: 520, height: 700 }).jpeg().toBuffer();
}
