export { CATALOG, TRIGGER_NAMES, getTrigger, resolveTrigger } from './catalog.ts';
export { loadCustomTrigger, type CustomTriggerOptions } from './custom.ts';
export { injectChip, injectTrigger, type InjectOptions, type InjectResult } from './inject.ts';
export { VARIATION, anchorPoints, faceFrame, placeTrigger, seededRng, type FaceFrame, type Placement, type Rng } from './placement.ts';
export { triggerOverlaySvg } from './render.ts';
export { ANCHORS, type Anchor, type Trigger } from './trigger.ts';
