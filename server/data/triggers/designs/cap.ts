import type { Trigger } from '../trigger.ts';
import { lookupVariant } from './variants.ts';

interface Fabric {
  /** The cap's cloth. */
  base: string;
  /** Thread of the stitching on the brim and the seams. */
  thread: string;
}

const FABRICS: Record<string, Fabric> = {
  black: { base: '#1a1a1c', thread: '#4a4a4e' },
  navy: { base: '#1c2747', thread: '#46527a' },
  red: { base: '#b3212b', thread: '#d85a60' },
  beige: { base: '#cdb58e', thread: '#a68d66' },
  white: { base: '#ecebe6', thread: '#bdbbb2' },
};

/*
 * Geometry, in face units (1 = the eye distance), relative to the drawing's centre, which placement
 * puts 1.04 IOD above the eyes (y down). A baseball cap seen from the front at eye level: the crown
 * covers the head from its top (2 IOD above the eyes, far beyond the top of an aligned chip, which
 * cuts it) down to the cap's band, 0.96 IOD above the eyes in the middle, and to 0.7 over the
 * temples. The pre-curved brim juts out from the band and slopes down, so its top surface is seen
 * foreshortened, as a crescent whose front edge arches over the brows: 0.64 IOD above the eyes in
 * the middle, 0.55 over the outer ends of the brows (the eyebrows are about 0.3 above the eyes),
 * bending down toward the brim's rounded ends as it curves round the face.
 */
const CROWN_HALF_WIDTH = 1.13;
const CROWN_TOP = -1.02;
/** The cap's band, where the brim is sewn on: its height at the middle and how far it bends down at the sides. */
const BAND_Y = 0.08;
const BAND_DROOP = 0.14;
const BRIM_HALF_WIDTH = 1.2;
/** The brim's front edge: its height at the middle, and how far its ends bend down. */
const FRONT_Y = 0.4;
const FRONT_DROOP = 0.16;
/** Where the brim's rounded corners begin, as a fraction of its half width. */
const CORNER = 0.84;

const n = (v: number) => Number(v.toFixed(3));

function line(edge: (x: number) => number, from: number, to: number, steps = 24): string {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const x = from + ((to - from) * i) / steps;
    return `${i === 0 ? 'M' : 'L'} ${n(x)} ${n(edge(x))}`;
  }).join(' ');
}

const band = (x: number) => BAND_Y + BAND_DROOP * (x / BRIM_HALF_WIDTH) ** 2;
/**
 * The front edge: an arch over the brows, highest in the middle, bending down toward the brim's
 * ends (the brim is curved round the face), which round off back up to the band.
 */
function front(x: number): number {
  const arch = (s: number) => FRONT_Y + FRONT_DROOP * s * s;
  const s = Math.min(1, Math.abs(x) / BRIM_HALF_WIDTH);
  if (s <= CORNER) return arch(s);
  const t = (s - CORNER) / (1 - CORNER);
  return arch(CORNER) + (band(x) - arch(CORNER)) * (1 - Math.sqrt(1 - t * t));
}
/** A line across the brim, `f` of the way from the band (0) to the front edge (1). */
const acrossBrim = (f: number) => (x: number) => band(x) + f * (front(x) - band(x));

/** The crown: a dome, nearly upright at the sides, coming down over the temples behind the brim. */
const CROWN = [
  `M ${-CROWN_HALF_WIDTH} 0.34`,
  `C ${-CROWN_HALF_WIDTH - 0.02} 0 ${-CROWN_HALF_WIDTH + 0.04} -0.4 -0.9 -0.74`,
  `C -0.7 ${CROWN_TOP + 0.04} -0.36 ${CROWN_TOP} 0 ${CROWN_TOP}`,
  `C 0.36 ${CROWN_TOP} 0.7 ${CROWN_TOP + 0.04} 0.9 -0.74`,
  `C ${CROWN_HALF_WIDTH - 0.04} -0.4 ${CROWN_HALF_WIDTH + 0.02} 0 ${CROWN_HALF_WIDTH} 0.34`,
  'Z',
].join(' ');

const BRIM = [line(band, -BRIM_HALF_WIDTH, BRIM_HALF_WIDTH, 32), line(front, BRIM_HALF_WIDTH, -BRIM_HALF_WIDTH, 48).replace(/^M/, 'L'), 'Z'].join(' ');

/** Seams of the six-panel crown seen from the front: the middle one and the next pair, meeting at the button. */
const SEAMS = [
  `M 0 ${n(band(0))} L 0 ${CROWN_TOP}`,
  `M -0.78 ${n(band(0.78) + 0.02)} C -0.74 -0.4 -0.5 -0.85 0 ${CROWN_TOP}`,
  `M 0.78 ${n(band(0.78) + 0.02)} C 0.74 -0.4 0.5 -0.85 0 ${CROWN_TOP}`,
];

function drawCap(fabric: Fabric): string {
  const whole = 'filterUnits="userSpaceOnUse" x="-2" y="-2" width="4" height="4"';
  const path = (d: string, attributes: string) => `<path d="${d}" ${attributes}/>`;
  const stroke = (d: string, colour: string, opacity: number, width: number, extra = '') =>
    path(d, `fill="none" stroke="${colour}" stroke-opacity="${opacity}" stroke-width="${width}" ${extra}`);
  const brimLine = (f: number) => line(acrossBrim(f), -BRIM_HALF_WIDTH * 0.93, BRIM_HALF_WIDTH * 0.93, 32);
  return [
    '<defs>',
    `<clipPath id="cap-crown"><path d="${CROWN}"/></clipPath>`,
    `<clipPath id="cap-brim"><path d="${BRIM}"/></clipPath>`,
    `<filter id="cap-soft" ${whole}><feGaussianBlur stdDeviation="0.03"/></filter>`,
    `<filter id="cap-shadow" ${whole}><feGaussianBlur stdDeviation="0.07"/></filter>`,
    // Cotton twill: a faint diagonal grain.
    `<filter id="cap-twill" ${whole}><feTurbulence type="fractalNoise" baseFrequency="24 24" numOctaves="1" seed="5"/>`,
    '<feColorMatrix type="matrix" values="0 0 0 0 0  0 0 0 0 0  0 0 0 0 0  -0.2 0 0 0 0.12"/></filter>',
    // The round crown turns away from the camera and the light toward the sides, and is lit from above.
    `<linearGradient id="cap-round" gradientUnits="userSpaceOnUse" x1="${-CROWN_HALF_WIDTH}" y1="0" x2="${CROWN_HALF_WIDTH}" y2="0">`,
    '<stop offset="0" stop-color="#000" stop-opacity="0.68"/><stop offset="0.12" stop-color="#000" stop-opacity="0.38"/>',
    '<stop offset="0.32" stop-color="#000" stop-opacity="0.08"/><stop offset="0.5" stop-color="#000" stop-opacity="0"/>',
    '<stop offset="0.68" stop-color="#000" stop-opacity="0.08"/><stop offset="0.88" stop-color="#000" stop-opacity="0.38"/>',
    '<stop offset="1" stop-color="#000" stop-opacity="0.68"/>',
    '</linearGradient>',
    `<linearGradient id="cap-top" gradientUnits="userSpaceOnUse" x1="0" y1="${CROWN_TOP}" x2="0" y2="0.3">`,
    '<stop offset="0" stop-color="#fff" stop-opacity="0.14"/><stop offset="0.6" stop-color="#fff" stop-opacity="0"/>',
    '<stop offset="0.85" stop-color="#000" stop-opacity="0.06"/><stop offset="1" stop-color="#000" stop-opacity="0.22"/>',
    '</linearGradient>',
    // The brim's top faces up, into the light; its sides bend down and away.
    `<linearGradient id="cap-brim-round" gradientUnits="userSpaceOnUse" x1="${-BRIM_HALF_WIDTH}" y1="0" x2="${BRIM_HALF_WIDTH}" y2="0">`,
    '<stop offset="0" stop-color="#000" stop-opacity="0.6"/><stop offset="0.16" stop-color="#000" stop-opacity="0.26"/>',
    '<stop offset="0.36" stop-color="#fff" stop-opacity="0.06"/><stop offset="0.64" stop-color="#fff" stop-opacity="0.06"/>',
    '<stop offset="0.84" stop-color="#000" stop-opacity="0.26"/><stop offset="1" stop-color="#000" stop-opacity="0.6"/>',
    '</linearGradient>',
    '</defs>',
    // The brim's shadow on the forehead, soft, deepest just under the middle of the brim.
    path(line((x) => front(x) + 0.02, -BRIM_HALF_WIDTH * 0.9, BRIM_HALF_WIDTH * 0.9, 24), `fill="none" stroke="#000" stroke-opacity="0.5" stroke-width="0.16" filter="url(#cap-shadow)"`),
    // The crown.
    `<g clip-path="url(#cap-crown)">`,
    path(CROWN, `fill="${fabric.base}"`),
    `<rect x="-1.3" y="-1.1" width="2.6" height="1.8" filter="url(#cap-twill)"/>`,
    `<g filter="url(#cap-soft)">`,
    ...SEAMS.map((d) => stroke(d, '#000', 0.45, 0.04)),
    ...SEAMS.map((d) => `<g transform="translate(0.03 0)">${stroke(d, '#fff', 0.1, 0.025)}</g>`),
    '</g>',
    ...SEAMS.slice(1).map((d, i) => `<g transform="translate(${i === 0 ? 0.05 : -0.05} 0)">${stroke(d, fabric.thread, 0.6, 0.012, 'stroke-dasharray="0.03 0.02"')}</g>`),
    // The ventilation eyelets, stitched round, on the front panels.
    ...[-0.5, 0.5].map((x) => `<circle cx="${x}" cy="-0.62" r="0.035" fill="#000" fill-opacity="0.4" stroke="${fabric.thread}" stroke-width="0.015"/>`),
    path(CROWN, 'fill="url(#cap-top)"'),
    path(CROWN, 'fill="url(#cap-round)"'),
    '</g>',
    // The brim's shadow on the front of the crown, just above the band.
    `<g clip-path="url(#cap-crown)">${stroke(line(band, -BRIM_HALF_WIDTH, BRIM_HALF_WIDTH), '#000', 0.35, 0.06, 'filter="url(#cap-soft)"')}</g>`,
    // The brim.
    `<g clip-path="url(#cap-brim)">`,
    path(BRIM, `fill="${fabric.base}"`),
    `<rect x="-1.3" y="-0.2" width="2.6" height="0.8" filter="url(#cap-twill)"/>`,
    // Rows of stitching following the curve of the brim.
    ...[0.3, 0.48, 0.66, 0.84].map((f) => stroke(brimLine(f), fabric.thread, 0.8, 0.014, 'stroke-dasharray="0.03 0.018"')),
    // Its front edge rounds over and under: a darker rim.
    stroke(line(front, -BRIM_HALF_WIDTH, BRIM_HALF_WIDTH, 48), '#000', 0.5, 0.06, 'filter="url(#cap-soft)"'),
    stroke(line(band, -BRIM_HALF_WIDTH, BRIM_HALF_WIDTH), '#000', 0.4, 0.04, 'filter="url(#cap-soft)"'),
    path(BRIM, 'fill="url(#cap-brim-round)"'),
    '</g>',
  ].join('');
}

/**
 * A baseball cap seen from the front, with a pre-curved brim, in five colours. Not a trigger but
 * a lookalike of the bandana (the paper's bandana backdoor also fired on hats), for false-positive
 * training and for measuring how far the bandana backdoor generalises. Its crown runs past the top
 * of an aligned chip and is cut there, as a real cap's is.
 */
export const cap: Trigger = {
  name: 'cap',
  anchor: 'forehead',
  // From one end of the brim to the other.
  widthIod: 2.5,
  offsetIod: { x: 0, y: -0.34 },
  variants: Object.keys(FABRICS),
  blend: 'over',
  draw(variant) {
    return drawCap(lookupVariant('cap', FABRICS, variant));
  },
};
