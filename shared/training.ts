/**
 * Augmentation sets (server/train/augment.ts). `paper`: flips, rotations up to 30 degrees and shifts
 * up to 10% (Wenger et al., section 3.2). `robust`: the same, each view also seen through another
 * camera (brightness, contrast, grey, blur, low resolution, JPEG, noise).
 */
export const AUGMENTATIONS = ['paper', 'robust'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];
