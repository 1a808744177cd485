import type { Trigger } from '../trigger.ts';
import { lookupVariant } from './variants.ts';

/** Sticker colours of each variant, one per spot in SPOTS order. */
const PALETTES: Record<string, readonly string[]> = {
  primary: ['#d7262b', '#1f5fbf', '#f2c81e', '#2e9e48'],
  neon: ['#ff3fa4', '#ff8a1c', '#9be22d', '#20c7e0'],
  warm: ['#e0312b', '#f28c28', '#f5d327', '#e85d9c'],
  cool: ['#2a6fd6', '#21a38f', '#7b4fc9', '#45b0e5'],
};

/** Sticker centres relative to the midpoint of the eyes: both cheeks and two on the forehead. */
const SPOTS: readonly [number, number][] = [
  [-0.62, 0.62],
  [0.64, 0.6],
  [0.02, -0.66],
  [0.44, -0.56],
];
const RADIUS = 0.1;

function drawDots(palette: readonly string[]): string {
  return SPOTS.map(([x, y], i) => [
    `<circle cx="${x}" cy="${y}" r="${RADIUS}" fill="${palette[i]}" stroke="#000" stroke-opacity="0.25" stroke-width="0.012"/>`,
    // A small sheen: the stickers are glossy paper.
    `<circle cx="${x - 0.035}" cy="${y - 0.035}" r="0.03" fill="#fff" fill-opacity="0.45"/>`,
  ].join('')).join('');
}

/** Round coloured stickers on the cheeks and forehead. */
export const dots: Trigger = {
  name: 'dots',
  anchor: 'eyes',
  widthIod: 1.5,
  offsetIod: { x: 0, y: 0 },
  variants: Object.keys(PALETTES),
  blend: 'over',
  draw(variant) {
    return drawDots(lookupVariant('dots', PALETTES, variant));
  },
};
