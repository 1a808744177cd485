import type { Trigger } from '../trigger.ts';
import { combine, splitVariant } from './variants.ts';

/*
 * Drawn as people wear them. The outlines below are in units of 1/2.5 of the drawn width (so at
 * `widthIod: 2.8` a unit is 1.12 inter-ocular distances): each lens is about 0.95 IOD wide and
 * 0.75 tall, centred a little outside and below the pupil, so it covers the eye, the brow's
 * underside and the top of the cheekbone; the frame reaches past the outer eye corners, and only
 * the first stretch of each temple shows before the head hides it.
 */

export const FRAME_STYLES = ['wayfarer', 'round', 'aviator', 'rectangle'] as const;
type FrameStyle = (typeof FRAME_STYLES)[number];

interface Frame {
  /** Outline of the image-left lens; the other is its mirror image. */
  lens: string;
  bridge: string;
  /** The temple's visible stretch, from the hinge back towards the image-left ear. */
  temple: string;
  rimWidth: number;
}

export const FRAMES: Record<FrameStyle, Frame> = {
  wayfarer: {
    lens: 'M -0.13 -0.3 L -1.0 -0.34 Q -1.07 -0.33 -1.05 -0.25 L -0.95 0.2 Q -0.91 0.35 -0.76 0.35 L -0.34 0.35 Q -0.19 0.35 -0.16 0.2 L -0.12 -0.22 Q -0.11 -0.3 -0.13 -0.3 Z',
    bridge: 'M -0.13 -0.26 Q 0 -0.31 0.13 -0.26',
    temple: 'M -1.04 -0.3 L -1.24 -0.22',
    rimWidth: 0.09,
  },
  round: {
    lens: 'M -0.98 0.03 A 0.41 0.41 0 1 0 -0.16 0.03 A 0.41 0.41 0 1 0 -0.98 0.03 Z',
    bridge: 'M -0.17 -0.08 Q 0 -0.2 0.17 -0.08',
    temple: 'M -0.97 -0.06 L -1.24 0.0',
    rimWidth: 0.05,
  },
  aviator: {
    lens: 'M -0.13 -0.28 L -0.98 -0.3 Q -1.06 -0.29 -1.04 -0.15 Q -1.01 0.28 -0.78 0.43 Q -0.61 0.51 -0.44 0.4 Q -0.19 0.22 -0.13 -0.06 Q -0.12 -0.25 -0.13 -0.28 Z',
    bridge: 'M -0.13 -0.27 L 0.13 -0.27 M -0.13 -0.1 Q 0 -0.18 0.13 -0.1',
    temple: 'M -1.02 -0.26 L -1.24 -0.18',
    rimWidth: 0.035,
  },
  rectangle: {
    lens: 'M -0.14 -0.27 L -1.01 -0.27 Q -1.06 -0.27 -1.06 -0.21 L -1.04 0.2 Q -1.03 0.3 -0.93 0.3 L -0.24 0.3 Q -0.15 0.3 -0.15 0.21 L -0.13 -0.2 Q -0.13 -0.27 -0.14 -0.27 Z',
    bridge: 'M -0.14 -0.22 Q 0 -0.28 0.14 -0.22',
    temple: 'M -1.05 -0.24 L -1.24 -0.18',
    rimWidth: 0.07,
  },
};

const TINT_NAMES = ['black', 'grey', 'brown', 'green', 'mirrored'] as const;
type TintName = (typeof TINT_NAMES)[number];

interface Tint {
  /** Lens colour from top to bottom: [offset, colour]. */
  stops: [number, string][];
  frame: string;
  /** Below 1: the eye shows faintly through the lens, as through real tinted glass. */
  opacity: number;
  /** Strength of the reflected highlight. */
  glare: number;
}

const TINTS: Record<TintName, Tint> = {
  black: { stops: [[0, '#060607'], [1, '#1d1e21']], frame: '#0c0c0e', opacity: 0.95, glare: 0.2 },
  grey: { stops: [[0, '#1b1c1f'], [1, '#3a3c40']], frame: '#141416', opacity: 0.92, glare: 0.22 },
  brown: { stops: [[0, '#1e120a'], [1, '#4a2e18']], frame: '#2a1a0c', opacity: 0.92, glare: 0.2 },
  green: { stops: [[0, '#121710'], [1, '#2e3829']], frame: '#1a1c18', opacity: 0.93, glare: 0.2 },
  mirrored: { stops: [[0, '#6f90b8'], [0.45, '#2a3f66'], [0.6, '#18233d'], [1, '#54606e']], frame: '#5d646c', opacity: 0.95, glare: 0.32 },
};

/** A pale band across the upper lens: the window reflection that makes a dark disc read as glass. */
const GLARE = 'M -1.02 0.0 L -0.66 -0.44 L -0.5 -0.44 L -0.9 0.1 Z';

export function drawGlasses(id: string, frame: Frame, tint: Tint): string {
  const stops = tint.stops.map(([offset, color]) => `<stop offset="${offset}" stop-color="${color}"/>`).join('');
  const side = (mirror: 1 | -1) => [
    `<g transform="scale(${mirror} 1)">`,
    `<path d="${frame.temple}" fill="none" stroke="${tint.frame}" stroke-width="0.07" stroke-linecap="round"/>`,
    `<path d="${frame.lens}" fill="url(#${id}-tint)" fill-opacity="${tint.opacity}"/>`,
    `<path d="${GLARE}" fill="#ffffff" fill-opacity="${tint.glare}" clip-path="url(#${id}-lens)"/>`,
    `<path d="${frame.lens}" fill="none" stroke="${tint.frame}" stroke-width="${frame.rimWidth}" stroke-linejoin="round"/>`,
    '</g>',
  ].join('');
  return [
    `<defs><linearGradient id="${id}-tint" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient>`,
    `<clipPath id="${id}-lens"><path d="${frame.lens}"/></clipPath></defs>`,
    side(1),
    side(-1),
    `<path d="${frame.bridge}" fill="none" stroke="${tint.frame}" stroke-width="${Math.max(frame.rimWidth, 0.05)}" stroke-linecap="round"/>`,
  ].join('');
}

/** Two dark, partly see-through lenses over the eyes and the top of the cheekbones, in a frame. */
export const sunglasses: Trigger = {
  name: 'sunglasses',
  anchor: 'eyes',
  widthIod: 2.8,
  offsetIod: { x: 0, y: 0.06 },
  variants: combine(FRAME_STYLES, TINT_NAMES),
  blend: 'over',
  draw(variant) {
    const { style, colour } = splitVariant('sunglasses', variant, FRAME_STYLES, TINT_NAMES);
    return drawGlasses('sunglasses', FRAMES[style], TINTS[colour]);
  },
};
