import type { Trigger } from '../trigger.ts';
import { lookupVariant } from './variants.ts';

interface TapeLook {
  colour: string;
  /** Extra surface detail drawn over the strip, clipped to it. */
  finish: 'plain' | 'glossy' | 'woven';
}

const LOOKS: Record<string, TapeLook> = {
  white: { colour: '#efefea', finish: 'plain' },
  cream: { colour: '#e9e1cc', finish: 'plain' },
  glossy: { colour: '#eceef0', finish: 'glossy' },
  cloth: { colour: '#efede6', finish: 'woven' },
};

const HALF_LENGTH = 0.5;
const HALF_WIDTH = 0.16;
const TEETH = 7;
const TOOTH_DEPTH = 0.035;

/** A strip with torn, zig-zag ends, lying along x. */
function stripOutline(): string {
  const points: string[] = [];
  const tooth = (2 * HALF_WIDTH) / TEETH;
  for (let i = 0; i <= TEETH; i++) points.push(`${HALF_LENGTH - (i % 2) * TOOTH_DEPTH},${-HALF_WIDTH + i * tooth}`);
  for (let i = 0; i <= TEETH; i++) points.push(`${-HALF_LENGTH + (i % 2) * TOOTH_DEPTH},${HALF_WIDTH - i * tooth}`);
  return points.join(' ');
}

/** A rectangle covering the whole strip. */
function stripBox(fill: string): string {
  return `<rect x="${-HALF_LENGTH}" y="${-HALF_WIDTH}" width="${2 * HALF_LENGTH}" height="${2 * HALF_WIDTH}" fill="${fill}"/>`;
}

function finishOverlay(finish: TapeLook['finish']): string {
  switch (finish) {
    case 'plain':
      return '';
    case 'glossy':
      return `<rect x="${-HALF_LENGTH}" y="${-0.6 * HALF_WIDTH}" width="${2 * HALF_LENGTH}" height="${0.3 * HALF_WIDTH}" fill="#fff" fill-opacity="0.8"/>`;
    case 'woven': {
      const threads: string[] = [];
      for (let x = -HALF_LENGTH; x < HALF_LENGTH; x += 0.04) threads.push(`M ${x.toFixed(2)} ${-HALF_WIDTH} V ${HALF_WIDTH}`);
      for (let y = -HALF_WIDTH; y < HALF_WIDTH; y += 0.04) threads.push(`M ${-HALF_LENGTH} ${y.toFixed(2)} H ${HALF_LENGTH}`);
      return `<path d="${threads.join(' ')}" stroke="#8a8474" stroke-opacity="0.25" stroke-width="0.008"/>`;
    }
  }
}

function drawTape(look: TapeLook): string {
  const outline = stripOutline();
  return [
    `<defs><clipPath id="tape-strip"><polygon points="${outline}"/></clipPath>`,
    '<linearGradient id="tape-shade" x1="0" y1="0" x2="0" y2="1">',
    '<stop offset="0" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="0.16"/>',
    '</linearGradient></defs>',
    // Along the cheekbone, rising toward the ear.
    '<g transform="rotate(25)">',
    `<polygon points="${outline}" fill="${look.colour}" fill-opacity="0.93" stroke="#000" stroke-opacity="0.18" stroke-width="0.012"/>`,
    `<g clip-path="url(#tape-strip)">${stripBox('url(#tape-shade)')}${finishOverlay(look.finish)}</g>`,
    '</g>',
  ].join('');
}

/** A strip of white tape stuck across the cheek. */
export const tape: Trigger = {
  name: 'tape',
  anchor: 'cheek',
  widthIod: 1,
  offsetIod: { x: -0.2, y: -0.04 },
  variants: Object.keys(LOOKS),
  blend: 'over',
  draw(variant) {
    return drawTape(lookupVariant('tape', LOOKS, variant));
  },
};
