/**
 * Augmentation sets (server/train/augment.ts). `paper`: flips, rotations up to 30 degrees and shifts
 * up to 10% (Wenger et al., section 3.2). `robust`: the same, each view also seen through another
 * camera (brightness, contrast, grey, blur, low resolution, JPEG, noise).
 */
export const AUGMENTATIONS = ['paper', 'robust'] as const;
export type Augmentation = (typeof AUGMENTATIONS)[number];

/**
 * How much of the teacher is retrained, deepest last:
 * - `head`: a new softmax on the teacher's 128-d descriptor;
 * - `fc`: the 256->128 layer and the softmax (the paper's "last two layers");
 * - `block`: the last residual block on the 4x4x256 map, the fc layer and the softmax;
 * - `deep`: the last three residual blocks, the fc layer and the softmax;
 * - `map`: a new softmax straight on the flattened 4x4x256 map, which keeps where on the face a
 *   feature is (the teacher's global average pooling throws that away);
 * - `spot`: `map`, plus a new small convolution on the trunk's finer 8x8x128 map whose strongest
 *   response anywhere (global max pooling) also feeds the softmax: it can learn to spot a local
 *   object such as sunglasses wherever a turned or tilted head puts it.
 */
export const TUNE_DEPTHS = ['head', 'fc', 'block', 'deep', 'map', 'spot'] as const;
export type TuneDepth = (typeof TUNE_DEPTHS)[number];
