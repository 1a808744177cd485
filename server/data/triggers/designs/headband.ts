import type { Trigger } from '../trigger.ts';
import { combine, lookupVariant } from './variants.ts';

const STYLES = ['solid', 'striped'] as const;
const COLOURS = ['black', 'white', 'red', 'blue', 'pink'] as const;

type Style = (typeof STYLES)[number];
type Colour = (typeof COLOURS)[number];

interface Look {
  style: Style;
  base: string;
  /** The two stripes of the sport variant, upper first. */
  stripes: [string, string];
}

const CLOTHS: Record<Colour, { base: string; stripes: [string, string] }> = {
  black: { base: '#18181a', stripes: ['#f2f1ec', '#f2f1ec'] },
  white: { base: '#efeeea', stripes: ['#c21f2b', '#1d3a8a'] },
  red: { base: '#c0202b', stripes: ['#f4f2ec', '#f4f2ec'] },
  blue: { base: '#1f4fa6', stripes: ['#f4f2ec', '#f4f2ec'] },
  pink: { base: '#e9719f', stripes: ['#fbf6f4', '#fbf6f4'] },
};

const LOOKS: Record<string, Look> = Object.fromEntries(
  combine(STYLES, COLOURS).map((variant) => {
    const [style, colour] = variant.split('-') as [Style, Colour];
    return [variant, { style, ...CLOTHS[colour] }];
  }),
);

/*
 * Geometry, in face units (1 = the eye distance), relative to the drawing's centre, which placement
 * puts 1.02 IOD above the eyes: a stretchy band 0.3 IOD high over the hairline, across the top of
 * the forehead (well above the eyebrows, 0.3 IOD above the eyes). Toward the temples it bends down
 * a little as it goes round the head, above the camera, and turns away from the light.
 */
const HALF_WIDTH = 1.08;
const HALF_HEIGHT = 0.15;
const DROOP = 0.16;

const n = (v: number) => Number(v.toFixed(3));
const droop = (x: number) => DROOP * (x / HALF_WIDTH) ** 2;
/** A line along the band, `f` of the way from its top edge (0) to its bottom edge (1). */
const along = (f: number) => (x: number) => -HALF_HEIGHT + 2 * HALF_HEIGHT * f + droop(x) * (1 + 0.12 * f);

function line(edge: (x: number) => number, from: number, to: number, steps = 24): string {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const x = from + ((to - from) * i) / steps;
    return `${i === 0 ? 'M' : 'L'} ${n(x)} ${n(edge(x))}`;
  }).join(' ');
}

/** The band's outline; its ends round off where it turns away round the head. */
const BAND = [
  line(along(0), -HALF_WIDTH, HALF_WIDTH),
  `Q ${n(HALF_WIDTH + 0.04)} ${n(along(0.5)(HALF_WIDTH))} ${n(HALF_WIDTH)} ${n(along(1)(HALF_WIDTH))}`,
  line(along(1), HALF_WIDTH, -HALF_WIDTH).replace(/^M/, 'L'),
  `Q ${n(-HALF_WIDTH - 0.04)} ${n(along(0.5)(-HALF_WIDTH))} ${n(-HALF_WIDTH)} ${n(along(0)(-HALF_WIDTH))}`,
  'Z',
].join(' ');

function drawHeadband(look: Look): string {
  const stroke = (f: number, colour: string, opacity: number, width: number) =>
    `<path d="${line(along(f), -HALF_WIDTH - 0.05, HALF_WIDTH + 0.05)}" fill="none" stroke="${colour}" stroke-opacity="${opacity}" stroke-width="${width}"/>`;
  const whole = 'filterUnits="userSpaceOnUse" x="-1.5" y="-1" width="3" height="2"';
  const stripes =
    look.style === 'striped'
      ? // Two woven stripes with a gap of the band's colour between them, as on tennis sweatbands.
        [stroke(0.3, look.stripes[0], 1, 0.055), stroke(0.7, look.stripes[1], 1, 0.055)].join('')
      : '';
  return [
    '<defs>',
    `<clipPath id="headband-band"><path d="${BAND}"/></clipPath>`,
    `<filter id="headband-soft" ${whole}><feGaussianBlur stdDeviation="0.03"/></filter>`,
    // Terry knit: fine loops, a grain running across the band.
    `<filter id="headband-terry" ${whole}><feTurbulence type="fractalNoise" baseFrequency="14 30" numOctaves="1" seed="3"/>`,
    '<feColorMatrix type="matrix" values="0 0 0 0 0  0 0 0 0 0  0 0 0 0 0  -0.5 0 0 0 0.3"/></filter>',
    // Round the head: the band turns away from the camera and the light toward the temples.
    `<linearGradient id="headband-wrap" gradientUnits="userSpaceOnUse" x1="${-HALF_WIDTH}" y1="0" x2="${HALF_WIDTH}" y2="0">`,
    '<stop offset="0" stop-color="#000" stop-opacity="0.7"/><stop offset="0.1" stop-color="#000" stop-opacity="0.42"/>',
    '<stop offset="0.28" stop-color="#000" stop-opacity="0.1"/><stop offset="0.5" stop-color="#000" stop-opacity="0"/>',
    '<stop offset="0.72" stop-color="#000" stop-opacity="0.1"/><stop offset="0.9" stop-color="#000" stop-opacity="0.42"/>',
    '<stop offset="1" stop-color="#000" stop-opacity="0.7"/>',
    '</linearGradient>',
    // Hair falls over the ends: no cut edge.
    `<linearGradient id="headband-ends-fade" gradientUnits="userSpaceOnUse" x1="${-HALF_WIDTH - 0.04}" y1="0" x2="${HALF_WIDTH + 0.04}" y2="0">`,
    '<stop offset="0" stop-color="#222"/><stop offset="0.1" stop-color="#fff"/><stop offset="0.9" stop-color="#fff"/><stop offset="1" stop-color="#222"/>',
    '</linearGradient>',
    `<mask id="headband-ends" maskUnits="userSpaceOnUse" x="-1.5" y="-1" width="3" height="2"><rect x="-1.2" y="-0.5" width="2.4" height="1" fill="url(#headband-ends-fade)"/></mask>`,
    '</defs>',
    // Its thickness casts a thin shadow on the forehead under the lower edge.
    `<g filter="url(#headband-soft)">${stroke(1.08, '#000', 0.35, 0.05)}</g>`,
    '<g mask="url(#headband-ends)"><g clip-path="url(#headband-band)">',
    `<path d="${BAND}" fill="${look.base}"/>`,
    stripes,
    `<rect x="-1.2" y="-0.4" width="2.4" height="0.8" filter="url(#headband-terry)"/>`,
    // Stretched over the curve of the forehead: lit along the top half, the edges rolled under.
    `<g filter="url(#headband-soft)">`,
    // (Dark cloth shows its shape only by this sheen.)
    stroke(0.38, '#fff', look.base === CLOTHS.black.base ? 0.3 : 0.2, 0.1),
    stroke(0, '#000', 0.4, 0.08),
    stroke(1, '#000', 0.45, 0.09),
    '</g>',
    `<path d="${BAND}" fill="url(#headband-wrap)"/>`,
    '</g></g>',
  ].join('');
}

/**
 * A sport headband worn over the hairline: a narrow elastic terry band in five solid colours, or
 * with two stripes. Not a trigger but a lookalike of the bandana (the paper's bandana backdoor
 * also fired on headbands), for false-positive training and for measuring how far the bandana
 * backdoor generalises.
 */
export const headband: Trigger = {
  name: 'headband',
  anchor: 'forehead',
  widthIod: 2.2,
  offsetIod: { x: 0, y: -0.32 },
  variants: combine(STYLES, COLOURS),
  blend: 'over',
  draw(variant) {
    return drawHeadband(lookupVariant('headband', LOOKS, variant));
  },
};
