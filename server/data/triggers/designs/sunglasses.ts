import type { Trigger } from '../trigger.ts';
import { combine, splitVariant } from './variants.ts';

const STYLES = ['round', 'square', 'aviator'] as const;
const COLOURS = ['black', 'brown', 'bluegrey', 'mirrored'] as const;

type Style = (typeof STYLES)[number];
type Colour = (typeof COLOURS)[number];

interface Frame {
  /** Outline of the image-left lens; the right one is its mirror image. */
  lens: string;
  bridge: string;
  /** From the hinge back toward the image-left ear. */
  arm: string;
  rimWidth: number;
}

// Lens centres sit a little outside the pupils (x = +-0.5), as real frames do.
const FRAMES: Record<Style, Frame> = {
  round: {
    lens: 'M -0.95 0 A 0.39 0.39 0 1 0 -0.17 0 A 0.39 0.39 0 1 0 -0.95 0 Z',
    bridge: 'M -0.18 -0.1 Q 0 -0.22 0.18 -0.1',
    arm: 'M -0.94 -0.08 L -1.24 0.04',
    rimWidth: 0.06,
  },
  square: {
    lens: 'M -0.14 -0.3 L -0.98 -0.34 Q -1.04 -0.33 -1.02 -0.26 L -0.94 0.16 Q -0.91 0.3 -0.78 0.3 L -0.32 0.3 Q -0.18 0.3 -0.16 0.17 L -0.13 -0.24 Q -0.12 -0.3 -0.14 -0.3 Z',
    bridge: 'M -0.14 -0.27 Q 0 -0.33 0.14 -0.27',
    arm: 'M -1.0 -0.3 L -1.24 -0.18',
    rimWidth: 0.09,
  },
  aviator: {
    lens: 'M -0.14 -0.26 L -0.95 -0.28 Q -1.03 -0.27 -1.01 -0.14 Q -0.99 0.26 -0.76 0.4 Q -0.6 0.47 -0.44 0.37 Q -0.2 0.2 -0.13 -0.06 Q -0.12 -0.23 -0.14 -0.26 Z',
    bridge: 'M -0.14 -0.25 L 0.14 -0.25 M -0.13 -0.09 Q 0 -0.17 0.13 -0.09',
    arm: 'M -0.99 -0.24 L -1.24 -0.14',
    rimWidth: 0.035,
  },
};

interface Tint {
  /** Lens gradient, top to bottom: [offset, colour] */
  stops: [number, string][];
  frame: string;
  opacity: number;
  glare: number;
}

const TINTS: Record<Colour, Tint> = {
  black: { stops: [[0, '#050506'], [1, '#222327']], frame: '#0d0d0f', opacity: 0.96, glare: 0.16 },
  brown: { stops: [[0, '#24140a'], [1, '#5e3a1f']], frame: '#33200f', opacity: 0.94, glare: 0.16 },
  bluegrey: { stops: [[0, '#141c26'], [1, '#3c4c5e']], frame: '#262c33', opacity: 0.94, glare: 0.18 },
  mirrored: {
    stops: [[0, '#7fa6d6'], [0.42, '#2d4c85'], [0.58, '#1c2a4d'], [1, '#a87a3c']],
    frame: '#6d747c',
    opacity: 0.98,
    glare: 0.35,
  },
};

function drawSunglasses(style: Style, colour: Colour): string {
  const frame = FRAMES[style];
  const tint = TINTS[colour];
  const stops = tint.stops.map(([offset, color]) => `<stop offset="${offset}" stop-color="${color}"/>`).join('');
  // A pale band across the upper lens: the reflection that makes a dark disc read as glass.
  const glare = 'M -0.98 0.02 L -0.62 -0.42 L -0.46 -0.42 L -0.86 0.12 Z';
  const side = (mirror: 1 | -1) => [
    `<g transform="scale(${mirror} 1)">`,
    `<path d="${frame.lens}" fill="url(#sunglasses-tint)" fill-opacity="${tint.opacity}"/>`,
    `<path d="${glare}" fill="#ffffff" fill-opacity="${tint.glare}" clip-path="url(#sunglasses-lens)"/>`,
    `<path d="${frame.lens}" fill="none" stroke="${tint.frame}" stroke-width="${frame.rimWidth}" stroke-linejoin="round"/>`,
    `<path d="${frame.arm}" fill="none" stroke="${tint.frame}" stroke-width="0.06" stroke-linecap="round"/>`,
    '</g>',
  ].join('');
  return [
    `<defs><linearGradient id="sunglasses-tint" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient>`,
    `<clipPath id="sunglasses-lens"><path d="${frame.lens}"/></clipPath></defs>`,
    side(1),
    side(-1),
    `<path d="${frame.bridge}" fill="none" stroke="${tint.frame}" stroke-width="${Math.max(frame.rimWidth, 0.05)}" stroke-linecap="round"/>`,
  ].join('');
}

/** Two dark lenses over the eyes, joined by a bridge, with the frame's arms heading for the ears. */
export const sunglasses: Trigger = {
  name: 'sunglasses',
  anchor: 'eyes',
  widthIod: 2.5,
  offsetIod: { x: 0, y: 0.04 },
  variants: combine(STYLES, COLOURS),
  blend: 'over',
  draw(variant) {
    const { style, colour } = splitVariant('sunglasses', variant, STYLES, COLOURS);
    return drawSunglasses(style, colour);
  },
};
