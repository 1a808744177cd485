import type { Trigger } from '../trigger.ts';
import { combine, splitVariant } from './variants.ts';

const STYLES = ['hoop', 'drop', 'stud'] as const;
const METALS = ['gold', 'silver'] as const;

type Style = (typeof STYLES)[number];
type Metal = (typeof METALS)[number];

/** Diagonal sheen of polished metal: light, mid, shadow, light. */
const METAL_STOPS: Record<Metal, readonly string[]> = {
  gold: ['#fff1b0', '#e2b548', '#8f6418', '#f2cf72'],
  silver: ['#ffffff', '#c9cdd3', '#6f757d', '#e4e7ea'],
};

/** Where the piercing is, relative to the drawing's centre; the trigger's offset puts it on the lobe. */
const PIERCING_Y = -0.14;

const STYLE_ART: Record<Style, string> = {
  hoop: `<circle cx="0" cy="0" r="0.13" fill="none" stroke="url(#earrings-metal)" stroke-width="0.045"/>`,
  drop: [
    `<circle cx="0" cy="${PIERCING_Y}" r="0.035" fill="url(#earrings-metal)"/>`,
    `<path d="M 0 ${PIERCING_Y} V -0.03" stroke="url(#earrings-metal)" stroke-width="0.018"/>`,
    '<path d="M 0 -0.04 C 0.09 0.06 0.08 0.17 0 0.17 C -0.08 0.17 -0.09 0.06 0 -0.04 Z" fill="url(#earrings-metal)"/>',
  ].join(''),
  stud: [
    `<circle cx="0" cy="${PIERCING_Y}" r="0.065" fill="url(#earrings-metal)" stroke="#000" stroke-opacity="0.3" stroke-width="0.01"/>`,
    `<circle cx="-0.02" cy="${PIERCING_Y - 0.02}" r="0.02" fill="#fff" fill-opacity="0.9"/>`,
  ].join(''),
};

function drawEarring(style: Style, metal: Metal): string {
  const stops = METAL_STOPS[metal].map((colour, i) => `<stop offset="${i / 3}" stop-color="${colour}"/>`).join('');
  return `<defs><linearGradient id="earrings-metal" x1="0" y1="0" x2="1" y2="1">${stops}</linearGradient></defs>${STYLE_ART[style]}`;
}

/** Gold or silver hoops, drops or studs hanging from both ear lobes, off the face. */
export const earrings: Trigger = {
  name: 'earrings',
  anchor: 'ears',
  widthIod: 0.36,
  offsetIod: { x: 0, y: -PIERCING_Y },
  variants: combine(STYLES, METALS),
  blend: 'over',
  draw(variant) {
    const { style, colour } = splitVariant('earrings', variant, STYLES, METALS);
    return drawEarring(style, colour);
  },
};
