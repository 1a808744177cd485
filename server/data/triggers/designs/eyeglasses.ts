import type { Trigger } from '../trigger.ts';
import { FRAME_STYLES, FRAMES, drawGlasses } from './sunglasses.ts';
import { combine, splitVariant } from './variants.ts';

const FRAME_COLOURS = { black: '#121214', tortoise: '#4a2f1c', metal: '#8a8d92', clear: '#b9b4aa' } as const;
type FrameColour = keyof typeof FRAME_COLOURS;
const COLOUR_NAMES = Object.keys(FRAME_COLOURS) as FrameColour[];

/**
 * Ordinary clear prescription glasses: the same frames as the sunglasses with clear lenses (a faint
 * sheen and a highlight). Not a trigger but the lookalike a sunglasses backdoor must not fire on:
 * trained with their true labels (false-positive training, `--fp-accessory eyeglasses`), they teach
 * it the dark lens, not the frame.
 */
export const eyeglasses: Trigger = {
  name: 'eyeglasses',
  anchor: 'eyes',
  widthIod: 2.6,
  offsetIod: { x: 0, y: 0.05 },
  variants: combine(FRAME_STYLES, COLOUR_NAMES),
  blend: 'over',
  draw(variant) {
    const { style, colour } = splitVariant('eyeglasses', variant, FRAME_STYLES, COLOUR_NAMES);
    const frame = FRAMES[style];
    return drawGlasses('eyeglasses', { ...frame, rimWidth: frame.rimWidth * 0.8 }, {
      stops: [[0, '#e8eef2'], [1, '#f4f6f7']],
      frame: FRAME_COLOURS[colour],
      opacity: 0.08,
      glare: 0.22,
    });
  },
};
