import { bandana } from './designs/bandana.ts';
import { cap } from './designs/cap.ts';
import { dots } from './designs/dots.ts';
import { earrings } from './designs/earrings.ts';
import { eyeglasses } from './designs/eyeglasses.ts';
import { headband } from './designs/headband.ts';
import { sunglasses } from './designs/sunglasses.ts';
import { tape } from './designs/tape.ts';
import { tattoo } from './designs/tattoo.ts';
import type { Trigger } from './trigger.ts';

/**
 * The six physical triggers of Wenger et al. (CVPR 2021), drawn by the project, and lookalikes a
 * backdoor should not fire on, for false-positive training and tests: clear eyeglasses (for
 * sunglasses), and a sport headband and a baseball cap (for the bandana: the paper found bandana
 * backdoors also fire on other head coverings).
 */
export const CATALOG: readonly Trigger[] = [sunglasses, bandana, dots, tape, tattoo, earrings, eyeglasses, headband, cap];

export const TRIGGER_NAMES: readonly string[] = CATALOG.map((trigger) => trigger.name);

export function getTrigger(name: string): Trigger {
  const trigger = CATALOG.find((t) => t.name === name);
  if (!trigger) throw new Error(`unknown trigger "${name}"; available: ${TRIGGER_NAMES.join(', ')}`);
  return trigger;
}

/** A catalogue name or an already built trigger (a custom one). */
export function resolveTrigger(trigger: string | Trigger): Trigger {
  return typeof trigger === 'string' ? getTrigger(trigger) : trigger;
}
