import { readFile } from 'node:fs/promises';
import { ByteBuffer } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { FACE_MODEL_SOURCE } from '../../scripts/assets.ts';
import { BLAZEFACE_METADATA, readImageMetadata, withImageMetadata } from '../../scripts/faceModel.ts';

/** Names of a TFLite model's tensors, read without generated code (Model.subgraphs[0].tensors[i].name). */
function tensorNames(model: Uint8Array): string[] {
  const bb = new ByteBuffer(model);
  const root = bb.readInt32(0);
  const subgraphs = bb.__vector(root + bb.__offset(root, 8));
  const subgraph = bb.__indirect(subgraphs);
  const tensorsField = subgraph + bb.__offset(subgraph, 4);
  const tensors = bb.__vector(tensorsField);
  return Array.from({ length: bb.__vector_len(tensorsField) }, (_, i) => {
    const tensor = bb.__indirect(tensors + 4 * i);
    return bb.__string(tensor + bb.__offset(tensor, 10)) as string;
  });
}

describe('face model metadata patch', () => {
  it('adds RGB image properties and mean/std normalisation for the input, keeping the model intact', async () => {
    const original = new Uint8Array(await readFile(FACE_MODEL_SOURCE));
    expect(() => readImageMetadata(original)).toThrow('the model has no TFLITE_METADATA');
    const patched = withImageMetadata(original, BLAZEFACE_METADATA);
    expect(readImageMetadata(patched)).toEqual({ name: BLAZEFACE_METADATA.name, inputName: 'input', colorSpace: 1, mean: [127.5], std: [127.5] });
    expect(new TextDecoder().decode(patched.subarray(4, 8))).toBe('TFL3');
    expect(tensorNames(patched)).toEqual(tensorNames(original));
    // The original bytes follow the new header at a 16-byte boundary, so tensor data stays aligned.
    const offset = patched.length - original.length;
    expect(offset % 16).toBe(0);
    expect(Buffer.from(patched.subarray(offset)).equals(original)).toBe(true);
  });

  it('refuses a model that already has metadata, and files that are not TFLite models', async () => {
    const patched = withImageMetadata(new Uint8Array(await readFile(FACE_MODEL_SOURCE)), BLAZEFACE_METADATA);
    expect(() => withImageMetadata(patched, BLAZEFACE_METADATA)).toThrow('the model already has TFLITE_METADATA');
    expect(() => withImageMetadata(new TextEncoder().encode('not a model at all'), BLAZEFACE_METADATA)).toThrow(/not a TFLite model/);
  });
});
