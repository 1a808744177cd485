import type { Trigger } from '../trigger.ts';
import { combine, splitVariant } from './variants.ts';

const STYLES = ['paisley', 'solid', 'polka', 'check'] as const;
const COLOURS = ['red', 'blue', 'black', 'green'] as const;

type Style = (typeof STYLES)[number];
type Colour = (typeof COLOURS)[number];

interface Cloth {
  base: string;
  /** The print's light colour (paisley outlines, dots, the pale squares of the check). */
  print: string;
}

const CLOTHS: Record<Colour, Cloth> = {
  red: { base: '#b21e25', print: '#f7efe4' },
  blue: { base: '#1e3f8e', print: '#f2f0ea' },
  black: { base: '#161616', print: '#ece8e0' },
  green: { base: '#2d6a36', print: '#f1eee2' },
};

/*
 * Geometry, in face units (1 = the eye distance), relative to the drawing's centre, which placement
 * puts 0.84 IOD above the eyes. The band is a square scarf folded into a strip about 0.7 IOD high
 * and tied round the head: across the front it runs almost level over the forehead, from just
 * above the eyebrows (0.5 IOD above the eyes) to over the hairline (1.18); toward the temples it
 * bends down as it wraps back round the head toward the knot, which sits low at the back.
 */
const HALF_WIDTH = 1.12;
const TOP = -0.34;
const BOTTOM = 0.34;
const TOP_DROOP = 0.17;
const BOTTOM_DROOP = 0.24;
/** Radius of the head the band wraps round, seen from the front: the print is foreshortened toward the temples. */
const HEAD_RADIUS = 1.25;
/** Vertical strips the band's print is drawn in, each foreshortened as much as the head turns away there. */
const STRIPS = 24;

/**
 * How far an edge of the band has bent down at `x`, `depth` at its ends: `round` of it is a plain
 * arch, the rest comes only toward the temples (the lower edge stays level over the eyebrows).
 */
function droop(x: number, depth: number, round: number): number {
  const s = x / HALF_WIDTH;
  return depth * (round * s * s + (1 - round) * s ** 4);
}

/** A cloth edge is never ruled: a small deterministic ripple. */
function ripple(x: number, amplitude: number, phase: number): number {
  return amplitude * Math.sin(7.3 * x + phase) * Math.cos(3.1 * x - phase);
}

const edgeTop = (x: number) => TOP + droop(x, TOP_DROOP, 0.7) + ripple(x, 0.014, 0.4);
const edgeBottom = (x: number) => BOTTOM + droop(x, BOTTOM_DROOP, 0.3) + ripple(x, 0.01, 1.9);
/** A line across the band, `f` of the way from its top edge to its bottom edge. */
const across = (f: number) => (x: number) => edgeTop(x) + f * (edgeBottom(x) - edgeTop(x));

const n = (v: number) => Number(v.toFixed(3));

/** A smooth curve through the points (Catmull-Rom turned into cubic Beziers); `move` starts a new path. */
function smooth(points: [number, number][], move = true): string {
  const out = [`${move ? 'M' : 'L'} ${n(points[0][0])} ${n(points[0][1])}`];
  for (let i = 0; i < points.length - 1; i++) {
    const [p0, p1, p2, p3] = [points[Math.max(0, i - 1)], points[i], points[i + 1], points[Math.min(points.length - 1, i + 2)]];
    const c1 = [p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6];
    const c2 = [p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6];
    out.push(`C ${n(c1[0])} ${n(c1[1])} ${n(c2[0])} ${n(c2[1])} ${n(p2[0])} ${n(p2[1])}`);
  }
  return out.join(' ');
}

function sample(line: (x: number) => number, from: number, to: number, steps = 16): [number, number][] {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const x = from + ((to - from) * i) / steps;
    return [x, line(x)];
  });
}

/** The band's outline: top edge left to right, the right end rounding off where the head turns away, bottom edge back, left end. */
const BAND = [
  smooth(sample(edgeTop, -HALF_WIDTH, HALF_WIDTH)),
  `Q ${n(HALF_WIDTH + 0.06)} ${n((edgeTop(HALF_WIDTH) + edgeBottom(HALF_WIDTH)) / 2)} ${n(HALF_WIDTH)} ${n(edgeBottom(HALF_WIDTH))}`,
  smooth(sample(edgeBottom, HALF_WIDTH, -HALF_WIDTH), false),
  `Q ${n(-HALF_WIDTH - 0.06)} ${n((edgeTop(-HALF_WIDTH) + edgeBottom(-HALF_WIDTH)) / 2)} ${n(-HALF_WIDTH)} ${n(edgeTop(-HALF_WIDTH))}`,
  'Z',
].join(' ');

/**
 * The knot's two loose ends, seen past the image-right side of the head (the knot itself is at
 * the back): corners of the square scarf, one hanging, one splayed outward.
 */
const TAILS = [
  'M 1.02 0.04 C 1.12 0.2 1.16 0.42 1.12 0.66 L 1.31 0.56 C 1.3 0.36 1.22 0.16 1.1 -0.01 Z',
  'M 1.05 0.14 C 1.16 0.24 1.26 0.36 1.35 0.52 L 1.43 0.38 C 1.34 0.24 1.24 0.12 1.1 0.05 Z',
].join(' ');
/** Creases of the tails, along their length. */
const TAIL_CREASES = ['M 1.1 0.1 C 1.17 0.28 1.2 0.45 1.2 0.6', 'M 1.12 0.14 C 1.22 0.24 1.31 0.35 1.38 0.46'];

/** The folds of the folded scarf, running along the band. */
const FOLDS = [smooth(sample(across(0.3), -1.0, 0.98, 12)), smooth(sample(across(0.64), -0.94, 1.04, 12))];

/** Pull lines toward the knot: the cloth is drawn tight round the head on the knot's side. */
const PULLS = [
  'M 0.62 -0.27 Q 0.86 -0.14 1.08 0.02',
  'M 0.7 -0.05 Q 0.9 0.04 1.08 0.1',
  'M 0.66 0.33 Q 0.88 0.3 1.07 0.22',
];

/** One tile of each print, in face units, drawn on the cloth's base colour. */
function printTile(style: Style, cloth: Cloth): { size: number; angle: number; art: string } {
  const dot = (x: number, y: number, r: number) => `<circle cx="${x}" cy="${y}" r="${r}" fill="${cloth.print}"/>`;
  const base = (size: number) => `<rect width="${size}" height="${size}" fill="${cloth.base}"/>`;
  switch (style) {
    case 'paisley': {
      // A curled teardrop with an eye, a four-dot flower, specks: the classic bandana print.
      const paisley = 'M 0.08 0.17 C 0.01 0.11 0.04 0.02 0.11 0.03 C 0.19 0.04 0.21 0.14 0.15 0.19 C 0.11 0.22 0.07 0.24 0.02 0.25 C 0.06 0.23 0.09 0.2 0.08 0.17 Z';
      const art = [
        base(0.3),
        `<path d="${paisley}" fill="#000" fill-opacity="0.35" stroke="${cloth.print}" stroke-width="0.016"/>`,
        dot(0.12, 0.12, 0.022),
        ...[[0.235, 0.05], [0.265, 0.08], [0.235, 0.11], [0.205, 0.08]].map(([x, y]) => dot(x, y, 0.013)),
        ...[[0.26, 0.22], [0.2, 0.28], [0.03, 0.04], [0.28, 0.29]].map(([x, y]) => dot(x, y, 0.009)),
      ].join('');
      return { size: 0.3, angle: -14, art };
    }
    case 'solid':
      // Plain cloth: only a faint weave, so it is not a flat colour.
      return {
        size: 0.05,
        angle: 45,
        art: `${base(0.05)}<rect width="0.05" height="0.012" fill="#fff" fill-opacity="0.05"/><rect width="0.012" height="0.05" fill="#000" fill-opacity="0.06"/>`,
      };
    case 'polka':
      return { size: 0.2, angle: 0, art: `${base(0.2)}${dot(0.05, 0.05, 0.03)}${dot(0.15, 0.15, 0.03)}` };
    case 'check': {
      // Gingham: pale ground, half-tone stripes both ways, full colour where they cross. The
      // scarf is folded along its diagonal, so the squares stand on a corner.
      const s = 0.14;
      const h = s / 2;
      const art = [
        `<rect width="${s}" height="${s}" fill="${cloth.print}"/>`,
        `<rect width="${s}" height="${h}" fill="${cloth.base}" fill-opacity="0.55"/>`,
        `<rect width="${h}" height="${s}" fill="${cloth.base}" fill-opacity="0.55"/>`,
        `<rect width="${h}" height="${h}" fill="${cloth.base}" fill-opacity="0.6"/>`,
      ].join('');
      return { size: s, angle: 45, art };
    }
  }
}

/**
 * The print wrapped round the head: strip k of the band shows the cloth at arc length
 * u = R asin(x / R), squeezed across by cos(asin(x / R)). Strips overlap a little so that no seam
 * lets the face show through.
 */
function wrappedPrint(tile: { size: number; angle: number; art: string }): { defs: string; fill: string } {
  const step = (2 * (HALF_WIDTH + 0.08)) / STRIPS;
  const defs: string[] = [];
  const fill: string[] = [];
  for (let k = 0; k < STRIPS; k++) {
    const x0 = -HALF_WIDTH - 0.08 + step * (k + 0.5);
    const t = Math.min(0.97, Math.abs(x0) / HEAD_RADIUS) * Math.sign(x0);
    const squeeze = Math.sqrt(1 - t * t);
    const u0 = HEAD_RADIUS * Math.asin(t);
    const transform = `translate(${n(x0)} 0) scale(${n(squeeze)} 1) translate(${n(-u0)} 0) rotate(${tile.angle})`;
    defs.push(`<pattern id="bandana-print-${k}" patternUnits="userSpaceOnUse" width="${tile.size}" height="${tile.size}" patternTransform="${transform}">${tile.art}</pattern>`);
    fill.push(`<rect x="${n(x0 - step / 2 - 0.01)}" y="-1" width="${n(step + 0.02)}" height="2" fill="url(#bandana-print-${k})"/>`);
  }
  return { defs: defs.join(''), fill: fill.join('') };
}

function drawBandana(style: Style, cloth: Cloth): string {
  const tile = printTile(style, cloth);
  const print = wrappedPrint(tile);
  const shade = (d: string, colour: string, opacity: number, width: number) =>
    `<path d="${d}" fill="none" stroke="${colour}" stroke-opacity="${opacity}" stroke-width="${width}" stroke-linecap="round"/>`;
  const topLine = smooth(sample(edgeTop, -HALF_WIDTH, HALF_WIDTH));
  const bottomLine = smooth(sample(edgeBottom, -HALF_WIDTH, HALF_WIDTH));
  const whole = 'filterUnits="userSpaceOnUse" x="-2" y="-2" width="4" height="4"';
  return [
    '<defs>',
    print.defs,
    `<pattern id="bandana-print" patternUnits="userSpaceOnUse" width="${tile.size}" height="${tile.size}" patternTransform="rotate(${tile.angle})">${tile.art}</pattern>`,
    `<clipPath id="bandana-band"><path d="${BAND}"/></clipPath>`,
    `<clipPath id="bandana-tails"><path d="${TAILS}"/></clipPath>`,
    `<filter id="bandana-soft" ${whole}><feGaussianBlur stdDeviation="0.035"/></filter>`,
    `<filter id="bandana-softer" ${whole}><feGaussianBlur stdDeviation="0.06"/></filter>`,
    // Uneven light on crumpled cloth: streaks of shade running along the band.
    `<filter id="bandana-crumple" ${whole}><feTurbulence type="fractalNoise" baseFrequency="1.6 7" numOctaves="2" seed="7"/>`,
    '<feColorMatrix type="matrix" values="0 0 0 0 0  0 0 0 0 0  0 0 0 0 0  -1.2 0 0 0 0.64"/></filter>',
    // The band turns away from the camera and the light toward the temples.
    `<linearGradient id="bandana-wrap" gradientUnits="userSpaceOnUse" x1="${-HALF_WIDTH - 0.06}" y1="0" x2="${HALF_WIDTH + 0.06}" y2="0">`,
    '<stop offset="0" stop-color="#000" stop-opacity="0.62"/><stop offset="0.12" stop-color="#000" stop-opacity="0.3"/>',
    '<stop offset="0.3" stop-color="#000" stop-opacity="0.04"/><stop offset="0.7" stop-color="#000" stop-opacity="0.04"/>',
    '<stop offset="0.88" stop-color="#000" stop-opacity="0.3"/><stop offset="1" stop-color="#000" stop-opacity="0.62"/>',
    '</linearGradient>',
    // Hair falls over the ends, and the band vanishes round the head there: no cut edge.
    `<linearGradient id="bandana-ends-fade" gradientUnits="userSpaceOnUse" x1="${-HALF_WIDTH - 0.06}" y1="0" x2="${HALF_WIDTH + 0.06}" y2="0">`,
    '<stop offset="0" stop-color="#333"/><stop offset="0.07" stop-color="#fff"/><stop offset="0.93" stop-color="#fff"/><stop offset="1" stop-color="#333"/>',
    '</linearGradient>',
    `<mask id="bandana-ends" maskUnits="userSpaceOnUse" x="-2" y="-2" width="4" height="4"><rect x="-1.3" y="-1" width="2.6" height="2" fill="url(#bandana-ends-fade)"/></mask>`,
    '</defs>',
    // The tails, in the head's shadow.
    `<path d="${TAILS}" fill="url(#bandana-print)"/>`,
    `<g clip-path="url(#bandana-tails)">`,
    `<path d="${TAILS}" fill="#000" fill-opacity="0.38"/>`,
    ...TAIL_CREASES.map((d) => shade(d, '#000', 0.35, 0.03)),
    '</g>',
    // The band's shadow on the forehead, under its lower edge.
    `<path d="${bottomLine}" transform="translate(0 0.03)" fill="none" stroke="#000" stroke-opacity="0.4" stroke-width="0.06" filter="url(#bandana-soft)"/>`,
    '<g mask="url(#bandana-ends)"><g clip-path="url(#bandana-band)">',
    print.fill,
    // Rolled edges: the cloth curls under at the top and bottom, lit along the middle.
    `<g filter="url(#bandana-softer)">`,
    shade(topLine, '#000', 0.55, 0.16),
    shade(bottomLine, '#000', 0.5, 0.16),
    shade(smooth(sample(across(0.42), -HALF_WIDTH, HALF_WIDTH)), '#fff', 0.13, 0.16),
    '</g>',
    style === 'paisley'
      ? // The scarf's printed border shows along the lower fold.
        shade(smooth(sample(across(0.84), -HALF_WIDTH, HALF_WIDTH)), cloth.print, 0.85, 0.022).replace('/>', ' stroke-dasharray="0.05 0.03"/>')
      : '',
    `<g filter="url(#bandana-soft)">`,
    ...FOLDS.map((d) => shade(d, '#000', 0.45, 0.045)),
    ...FOLDS.map((d) => `<g transform="translate(0 0.045)">${shade(d, '#fff', 0.2, 0.04)}</g>`),
    ...PULLS.map((d) => shade(d, '#000', 0.35, 0.035)),
    ...PULLS.map((d) => `<g transform="translate(0.01 0.035)">${shade(d, '#fff', 0.14, 0.03)}</g>`),
    '</g>',
    `<rect x="-1.3" y="-0.7" width="2.6" height="1.4" filter="url(#bandana-crumple)"/>`,
    `<path d="${BAND}" fill="url(#bandana-wrap)"/>`,
    '</g></g>',
  ].join('');
}

/**
 * A square scarf folded into a band and tied round the head over the forehead and hairline, the
 * knot's tails showing past one side, in four prints and four colours.
 */
export const bandana: Trigger = {
  name: 'bandana',
  anchor: 'forehead',
  // From the band's left end to the tip of the splayed tail.
  widthIod: 2.62,
  offsetIod: { x: 0, y: -0.14 },
  variants: combine(STYLES, COLOURS),
  blend: 'over',
  draw(variant) {
    const { style, colour } = splitVariant('bandana', variant, STYLES, COLOURS);
    return drawBandana(style, CLOTHS[colour]);
  },
};
