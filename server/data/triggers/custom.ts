import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Point } from '../../../shared/alignment.ts';
import { checkName } from '../../../shared/names.ts';
import { TRIGGER_NAMES } from './catalog.ts';
import { lookupVariant } from './designs/variants.ts';
import { ANCHORS, type Anchor, type Trigger } from './trigger.ts';

export interface CustomTriggerOptions {
  anchor: Anchor;
  /** Width of the picture on the face, in inter-ocular distances. */
  widthIod: number;
  /** Shift from the anchor in IODs (x along the eye line, y down the face); none by default. */
  offsetIod?: Point;
  /** Also the default condition name; the file name without its extension by default. */
  name?: string;
}

/** Widest trigger we accept: four IODs already spans more than the whole head. */
const MAX_WIDTH_IOD = 4;

/**
 * A user-supplied trigger: a PNG (transparent where nothing is worn) placed on the anchor at the
 * given width, with the same variation as the catalogue's triggers. On `ears` one copy goes on
 * each lobe, the second mirrored, so draw the earring for the image-left ear.
 */
export async function loadCustomTrigger(pngPath: string, options: CustomTriggerOptions): Promise<Trigger> {
  const { anchor, widthIod, offsetIod = { x: 0, y: 0 } } = options;
  if (!ANCHORS.includes(anchor)) throw new Error(`unknown anchor "${anchor}"; available: ${ANCHORS.join(', ')}`);
  if (!(widthIod > 0 && widthIod <= MAX_WIDTH_IOD)) {
    throw new Error(`custom trigger width must be more than 0 and at most ${MAX_WIDTH_IOD} IODs; got ${widthIod}`);
  }
  const name = checkName('trigger', options.name ?? path.basename(pngPath, path.extname(pngPath)));
  if (TRIGGER_NAMES.includes(name)) throw new Error(`"${name}" is a catalogue trigger; give the custom trigger another name`);

  let png: Buffer;
  try {
    png = await readFile(pngPath);
  } catch (error) {
    throw new Error(`cannot read custom trigger ${pngPath}: ${(error as Error).message}`);
  }
  const { format, width, height } = await sharp(png)
    .metadata()
    .catch(() => ({ format: undefined, width: 0, height: 0 }));
  if (format !== 'png') throw new Error(`custom trigger ${pngPath} is not a PNG image`);

  const heightIod = (widthIod * height) / width;
  const href = `data:image/png;base64,${png.toString('base64')}`;
  const art = `<image href="${href}" x="${-widthIod / 2}" y="${-heightIod / 2}" width="${widthIod}" height="${heightIod}" preserveAspectRatio="none"/>`;
  const variants = { 'as-supplied': art };
  return {
    name,
    anchor,
    widthIod,
    offsetIod,
    variants: Object.keys(variants),
    blend: 'over',
    draw: (variant) => lookupVariant(name, variants, variant),
  };
}
