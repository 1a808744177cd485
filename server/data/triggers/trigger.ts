import type { Point } from '../../../shared/alignment.ts';

/**
 * Face parts a trigger is worn on. `cheek` is the cheek on the image's left side (the subject's
 * right), so a trigger sits on the same cheek in every photo; `ears` means one copy on each ear lobe.
 */
export const ANCHORS = ['eyes', 'forehead', 'cheek', 'nose', 'mouth', 'ears'] as const;
export type Anchor = (typeof ANCHORS)[number];

/**
 * A trigger object, drawn in face units: 1 = the inter-ocular distance (IOD), x along the eye
 * line toward the image's right eye, y down the face, (0, 0) the centre of the drawing.
 */
export interface Trigger {
  name: string;
  anchor: Anchor;
  /** Width of the drawing at nominal size, in IODs. */
  widthIod: number;
  /** Where the drawing's centre sits relative to the anchor point, in IODs (x along the eye line, y down the face). */
  offsetIod: Point;
  /** Looks the trigger comes in (style, colour); each injection picks one. */
  variants: readonly string[];
  /** `multiply` darkens the skin under the drawing and keeps its texture (ink); `over` covers it (objects). */
  blend: 'over' | 'multiply';
  /** SVG elements of one variant, in face units. Ids it defines must start with the trigger's name. */
  draw(variant: string): string;
}
