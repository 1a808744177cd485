import type { Trigger } from '../trigger.ts';
import { lookupVariant } from './variants.ts';

const INK = '#222c40';

/** Corners of a five-pointed star of outer radius r, pointing up, alternating outer and inner. */
function starCorners(r: number): [number, number][] {
  return Array.from({ length: 10 }, (_, i) => {
    const radius = i % 2 === 0 ? r : r * 0.4;
    const angle = -Math.PI / 2 + (i * Math.PI) / 5;
    return [radius * Math.cos(angle), radius * Math.sin(angle)];
  });
}

const points = (corners: [number, number][]) => corners.map(([x, y]) => `${x.toFixed(3)},${y.toFixed(3)}`).join(' ');

/**
 * A teardrop falling from the outer corner of the eye, the classic face tattoo, point up: about
 * 0.22 IOD wide and 0.36 high.
 */
const TEARDROP = 'M 0 -0.18 C 0.035 -0.09 0.11 -0.02 0.11 0.06 C 0.11 0.13 0.06 0.18 0 0.18 C -0.06 0.18 -0.11 0.13 -0.11 0.06 C -0.11 -0.02 -0.035 -0.09 0 -0.18 Z';

const SHAPES: Record<string, () => string> = {
  // The paper's two tattoos: the same drawing as an outline only and filled in.
  'teardrop-outline': () => `<path d="${TEARDROP}" fill="none" stroke="${INK}" stroke-width="0.04" stroke-linejoin="round"/>`,
  'teardrop-filled': () => `<path d="${TEARDROP}" fill="${INK}" stroke="${INK}" stroke-width="0.04" stroke-linejoin="round"/>`,
  star: () => `<polygon points="${points(starCorners(0.2))}" fill="${INK}"/>`,
  // The sailor's star: each point half inked, half bare skin, inside an outline.
  'nautical-star': () => {
    const corners = starCorners(0.21);
    const halves = corners
      .filter((_, i) => i % 2 === 0)
      .map((outer, k) => `<polygon points="${points([[0, 0], outer, corners[(2 * k + 1) % 10]])}" fill="${INK}"/>`);
    return `${halves.join('')}<polygon points="${points(corners)}" fill="none" stroke="${INK}" stroke-width="0.022" stroke-linejoin="miter"/>`;
  },
  tribal: () =>
    `<path fill="${INK}" d="M -0.2 0.16 C -0.12 0.02 -0.02 -0.04 0.04 -0.2 C 0.04 -0.06 0 0.02 -0.06 0.08 C 0.04 0.02 0.12 -0.04 0.2 -0.14 C 0.16 0.02 0.06 0.1 -0.04 0.14 C 0.06 0.14 0.12 0.1 0.18 0.06 C 0.12 0.16 0 0.22 -0.2 0.16 Z"/>`,
  'stars-trio': () =>
    [[-0.1, 0.08, 0.11], [0.1, -0.06, 0.08], [0.15, 0.14, 0.055]]
      .map(([x, y, r]) => `<polygon transform="translate(${x} ${y})" points="${points(starCorners(r))}" fill="${INK}"/>`)
      .join(''),
};

/**
 * A small dark ink drawing on the upper cheek, below the outer corner of the eye: a teardrop as an
 * outline and filled in (the paper's two tattoos), and star and tribal designs.
 */
export const tattoo: Trigger = {
  name: 'tattoo',
  anchor: 'cheek',
  widthIod: 0.5,
  offsetIod: { x: -0.22, y: -0.18 },
  variants: Object.keys(SHAPES),
  // Ink is under the skin's surface: shading and texture must show through.
  blend: 'multiply',
  draw(variant) {
    return `<g opacity="0.75">${lookupVariant('tattoo', SHAPES, variant)()}</g>`;
  },
};
