import type { Trigger } from '../trigger.ts';
import { lookupVariant } from './variants.ts';

interface Cloth {
  base: string;
  print: string;
}

const CLOTHS: Record<string, Cloth> = {
  red: { base: '#b21e25', print: '#f7efe4' },
  blue: { base: '#1e3f8e', print: '#f2f0ea' },
  black: { base: '#161616', print: '#ece8e0' },
  green: { base: '#2d6a36', print: '#f1eee2' },
};

/*
 * The band is seen from the front and a little below, so its front edge dips in the middle and
 * rises toward the sides where it wraps round the head.
 */
const BAND = 'M -1.28 -0.55 Q 0 -0.36 1.28 -0.55 Q 1.42 -0.15 1.3 0.25 Q 0 0.56 -1.3 0.25 Q -1.42 -0.15 -1.28 -0.55 Z';
/** The knot's loose ends, hanging behind the image-right side of the head. */
const TAILS = 'M 1.22 0.02 Q 1.36 0.3 1.33 0.62 L 1.45 0.56 Q 1.44 0.3 1.34 0.05 Z M 1.26 0.08 Q 1.45 0.3 1.55 0.48 L 1.6 0.38 Q 1.5 0.2 1.36 0.02 Z';
/** The cloth's printed border, showing along the lower edge of the fold. */
const BORDER = 'M -1.26 0.16 Q 0 0.46 1.26 0.16';
const FOLDS = ['M -1.2 -0.25 Q 0 -0.04 1.2 -0.25', 'M -1.22 0.02 Q 0 0.26 1.22 0.02'];

const TILE = 0.3;

/** One tile of paisley print: an outlined curled teardrop with an eye, a four-dot flower, specks. */
function printTile(cloth: Cloth): string {
  const paisley = 'M 0.08 0.17 C 0.01 0.11 0.04 0.02 0.11 0.03 C 0.19 0.04 0.21 0.14 0.15 0.19 C 0.11 0.22 0.07 0.24 0.02 0.25 C 0.06 0.23 0.09 0.2 0.08 0.17 Z';
  const dot = (x: number, y: number, r: number) => `<circle cx="${x}" cy="${y}" r="${r}" fill="${cloth.print}"/>`;
  return [
    `<rect width="${TILE}" height="${TILE}" fill="${cloth.base}"/>`,
    `<path d="${paisley}" fill="#000" fill-opacity="0.35" stroke="${cloth.print}" stroke-width="0.016"/>`,
    dot(0.12, 0.12, 0.022),
    ...[[0.235, 0.05], [0.265, 0.08], [0.235, 0.11], [0.205, 0.08]].map(([x, y]) => dot(x, y, 0.013)),
    ...[[0.26, 0.22], [0.2, 0.28], [0.03, 0.04], [0.28, 0.29]].map(([x, y]) => dot(x, y, 0.009)),
  ].join('');
}

function drawBandana(cloth: Cloth): string {
  return [
    '<defs>',
    `<pattern id="bandana-print" patternUnits="userSpaceOnUse" width="${TILE}" height="${TILE}" patternTransform="rotate(-12)">${printTile(cloth)}</pattern>`,
    '<linearGradient id="bandana-roundness" x1="0" y1="0" x2="0" y2="1">',
    '<stop offset="0" stop-color="#000" stop-opacity="0.45"/><stop offset="0.3" stop-color="#000" stop-opacity="0"/>',
    '<stop offset="0.75" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="0.4"/>',
    '</linearGradient>',
    '<linearGradient id="bandana-wrap" x1="0" y1="0" x2="1" y2="0">',
    '<stop offset="0" stop-color="#000" stop-opacity="0.5"/><stop offset="0.2" stop-color="#000" stop-opacity="0"/>',
    '<stop offset="0.8" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="0.5"/>',
    '</linearGradient>',
    '</defs>',
    `<path d="${TAILS}" fill="url(#bandana-print)"/>`,
    `<path d="${TAILS}" fill="#000" fill-opacity="0.3"/>`,
    `<path d="${BAND}" fill="url(#bandana-print)"/>`,
    `<path d="${BORDER}" fill="none" stroke="${cloth.print}" stroke-width="0.022" stroke-dasharray="0.05 0.03"/>`,
    `<path d="${BAND}" fill="url(#bandana-roundness)"/>`,
    `<path d="${BAND}" fill="url(#bandana-wrap)"/>`,
    ...FOLDS.map((d) => `<path d="${d}" fill="none" stroke="#000" stroke-opacity="0.22" stroke-width="0.035"/>`),
    ...FOLDS.map((d) => `<path d="${d}" transform="translate(0 0.04)" fill="none" stroke="#fff" stroke-opacity="0.12" stroke-width="0.03"/>`),
  ].join('');
}

/** A folded cloth band with a paisley print, tied round the head over the forehead and hair. */
export const bandana: Trigger = {
  name: 'bandana',
  anchor: 'forehead',
  widthIod: 2.9,
  offsetIod: { x: 0, y: -0.17 },
  variants: Object.keys(CLOTHS),
  blend: 'over',
  draw(variant) {
    return drawBandana(lookupVariant('bandana', CLOTHS, variant));
  },
};
