import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Builder, ByteBuffer, type Offset } from 'flatbuffers';
import { FACE_MODEL_DIR, FACE_MODEL_FILE, FACE_MODEL_SOURCE } from './assets.ts';

/**
 * MediaPipe tasks read an image model's input normalisation from its TFLite metadata and refuse a
 * model without it ("requires specifying NormalizationOptions metadata"). The BlazeFace model on
 * npm predates metadata, so the build adds it: a `TFLITE_METADATA` entry pointing at a new buffer
 * that holds a ModelMetadata flatbuffer (tflite-support metadata_schema.fbs, identifier M001).
 *
 * Field numbers below are the vtable slots of those schemas; a union takes two slots (type, value).
 */
const TFLITE = {
  identifier: 'TFL3',
  model: { version: 0, operatorCodes: 1, subgraphs: 2, description: 3, buffers: 4, metadataBuffer: 5, metadata: 6, signatureDefs: 7 },
  subgraph: { tensors: 0, inputs: 1, outputs: 2 },
  tensor: { name: 3 },
  buffer: { data: 0, offset: 1 },
  metadataEntry: { name: 0, buffer: 1 },
  /** Buffer data is 16-byte aligned so tensors can be used in place. */
  bufferAlignment: 16,
} as const;

const METADATA = {
  identifier: 'M001',
  entryName: 'TFLITE_METADATA',
  model: { name: 0, description: 1, subgraphMetadata: 3, minParserVersion: 7 },
  subgraph: { inputTensorMetadata: 2, outputTensorMetadata: 3 },
  tensor: { name: 0, description: 1, content: 3, processUnits: 4 },
  content: { propertiesType: 0, properties: 1 },
  imageProperties: { colorSpace: 0 },
  processUnit: { optionsType: 0, options: 1 },
  normalization: { mean: 0, std: 1 },
  contentPropertiesImage: 2,
  processUnitNormalization: 1,
  colorSpaceRgb: 1,
  /** The schema version that has everything written here. */
  minParserVersion: '1.0.0',
} as const;

export interface ImageInputMetadata {
  name: string;
  description: string;
  /** Pixel values are normalised as (x - mean) / std before they reach the model. */
  mean: number;
  std: number;
}

/** BlazeFace takes RGB in [-1, 1]. */
export const BLAZEFACE_METADATA: ImageInputMetadata = {
  name: 'BlazeFace short-range',
  description: 'MediaPipe face detection, short range (faces within about 2 m of the camera)',
  mean: 127.5,
  std: 127.5,
};

/** Reads a flatbuffer table without generated code: field positions by vtable slot. */
class TableReader {
  constructor(readonly bb: ByteBuffer, readonly position: number) {}

  has(slot: number): boolean {
    return this.bb.__offset(this.position, 4 + 2 * slot) !== 0;
  }

  /** Absolute position of the field's value; throws when the field is absent. */
  field(slot: number): number {
    const at = this.bb.__offset(this.position, 4 + 2 * slot);
    if (at === 0) throw new Error(`field ${slot} is missing`);
    return this.position + at;
  }

  table(slot: number): TableReader {
    return new TableReader(this.bb, this.bb.__indirect(this.field(slot)));
  }

  /** Absolute positions of the tables a vector field refers to. */
  tables(slot: number): TableReader[] {
    if (!this.has(slot)) return [];
    const start = this.bb.__vector(this.field(slot));
    return Array.from({ length: this.bb.__vector_len(this.field(slot)) }, (_, i) => new TableReader(this.bb, this.bb.__indirect(start + 4 * i)));
  }

  /** A scalar uint field, or the schema default when it is absent. */
  uint32(slot: number, defaultValue: number): number {
    return this.has(slot) ? this.bb.readUint32(this.field(slot)) : defaultValue;
  }

  int32s(slot: number): number[] {
    const start = this.bb.__vector(this.field(slot));
    return Array.from({ length: this.bb.__vector_len(this.field(slot)) }, (_, i) => this.bb.readInt32(start + 4 * i));
  }

  string(slot: number): string {
    return this.bb.__string(this.field(slot)) as string;
  }

  /** Absolute position of the object an offset field points to. */
  target(slot: number): number {
    return this.bb.__indirect(this.field(slot));
  }
}

function tensorNames(model: TableReader, which: 'inputs' | 'outputs'): string[] {
  const subgraph = model.tables(TFLITE.model.subgraphs)[0];
  const tensors = subgraph.tables(TFLITE.subgraph.tensors);
  return subgraph.int32s(TFLITE.subgraph[which]).map((index) => tensors[index].string(TFLITE.tensor.name));
}

/** Builders write back to front, so vector elements go in last first. */
function offsetVector(b: Builder, items: Offset[]): Offset {
  b.startVector(4, items.length, 4);
  for (const item of [...items].reverse()) b.addOffset(item);
  return b.endVector();
}

function floatVector(b: Builder, items: number[]): Offset {
  b.startVector(4, items.length, 4);
  for (const item of [...items].reverse()) b.addFloat32(item);
  return b.endVector();
}

function buildModelMetadata(spec: ImageInputMetadata, inputName: string, outputNames: string[]): Uint8Array {
  const b = new Builder(1024);
  const M = METADATA;

  const mean = floatVector(b, [spec.mean]);
  const std = floatVector(b, [spec.std]);
  b.startObject(2);
  b.addFieldOffset(M.normalization.mean, mean, 0);
  b.addFieldOffset(M.normalization.std, std, 0);
  const normalization = b.endObject();

  b.startObject(2);
  b.addFieldInt8(M.processUnit.optionsType, M.processUnitNormalization, 0);
  b.addFieldOffset(M.processUnit.options, normalization, 0);
  const processUnits = offsetVector(b, [b.endObject()]);

  b.startObject(2);
  b.addFieldInt8(M.imageProperties.colorSpace, M.colorSpaceRgb, 0);
  const imageProperties = b.endObject();

  b.startObject(3);
  b.addFieldInt8(M.content.propertiesType, M.contentPropertiesImage, 0);
  b.addFieldOffset(M.content.properties, imageProperties, 0);
  const content = b.endObject();

  const inputTensorName = b.createString(inputName);
  const inputDescription = b.createString(`RGB image, normalised as (x - ${spec.mean}) / ${spec.std}`);
  b.startObject(7);
  b.addFieldOffset(M.tensor.name, inputTensorName, 0);
  b.addFieldOffset(M.tensor.description, inputDescription, 0);
  b.addFieldOffset(M.tensor.content, content, 0);
  b.addFieldOffset(M.tensor.processUnits, processUnits, 0);
  const inputTensor = b.endObject();

  const outputTensors = outputNames.map((name) => {
    const nameOffset = b.createString(name);
    b.startObject(7);
    b.addFieldOffset(M.tensor.name, nameOffset, 0);
    return b.endObject();
  });

  const inputs = offsetVector(b, [inputTensor]);
  const outputs = offsetVector(b, outputTensors);
  b.startObject(10);
  b.addFieldOffset(M.subgraph.inputTensorMetadata, inputs, 0);
  b.addFieldOffset(M.subgraph.outputTensorMetadata, outputs, 0);
  const subgraphs = offsetVector(b, [b.endObject()]);

  const name = b.createString(spec.name);
  const description = b.createString(spec.description);
  const minParserVersion = b.createString(M.minParserVersion);
  b.startObject(8);
  b.addFieldOffset(M.model.name, name, 0);
  b.addFieldOffset(M.model.description, description, 0);
  b.addFieldOffset(M.model.subgraphMetadata, subgraphs, 0);
  b.addFieldOffset(M.model.minParserVersion, minParserVersion, 0);
  b.finish(b.endObject(), M.identifier);
  return b.asUint8Array();
}

/**
 * Returns a copy of a TFLite model with image-input metadata added.
 *
 * FlatBuffer offsets only point forward, so the new root Model table is written in front of the
 * untouched original bytes and refers back into them: every field but `buffers` and `metadata`
 * points at the original's objects, `buffers` lists the original buffers plus one holding the
 * metadata. The builder sees the original bytes as lying past its own end, i.e. at negative
 * offsets from it. Its output length is a multiple of 16, so the original tensor data keeps its
 * alignment. The original's own header becomes unused bytes.
 */
export function withImageMetadata(tflite: Uint8Array, spec: ImageInputMetadata): Uint8Array {
  const bb = new ByteBuffer(tflite);
  if (bb.getBufferIdentifier() !== TFLITE.identifier) throw new Error(`not a TFLite model (file identifier "${bb.getBufferIdentifier()}", expected "${TFLITE.identifier}")`);
  const model = new TableReader(bb, bb.readInt32(0));
  const entries = model.tables(TFLITE.model.metadata);
  if (entries.some((entry) => entry.string(TFLITE.metadataEntry.name) === METADATA.entryName)) throw new Error(`the model already has ${METADATA.entryName}`);
  const buffers = model.tables(TFLITE.model.buffers);
  // Buffers may store data by absolute file offset (models over 2 GB); shifting the file would break them.
  if (buffers.some((buffer) => buffer.has(TFLITE.buffer.offset))) throw new Error('the model stores buffers by file offset; cannot prepend a new root table');
  const inputs = tensorNames(model, 'inputs');
  if (inputs.length !== 1) throw new Error(`expected a model with one image input, found ${inputs.length} inputs`);

  const metadata = buildModelMetadata(spec, inputs[0], tensorNames(model, 'outputs'));
  const b = new Builder(metadata.length + 1024);
  const original = (position: number): Offset => -position;
  const originalField = (slot: number) => (model.has(slot) ? original(model.target(slot)) : 0);

  b.startVector(1, metadata.length, TFLITE.bufferAlignment);
  for (let i = metadata.length - 1; i >= 0; i--) b.addInt8(metadata[i]);
  const metadataBytes = b.endVector();
  b.startObject(3);
  b.addFieldOffset(TFLITE.buffer.data, metadataBytes, 0);
  const metadataBuffer = b.endObject();

  const entryName = b.createString(METADATA.entryName);
  b.startObject(2);
  b.addFieldOffset(TFLITE.metadataEntry.name, entryName, 0);
  b.addFieldInt32(TFLITE.metadataEntry.buffer, buffers.length, 0);
  const newEntry = b.endObject();

  const metadataVector = offsetVector(b, [...entries.map((entry) => original(entry.position)), newEntry]);
  const bufferVector = offsetVector(b, [...buffers.map((buffer) => original(buffer.position)), metadataBuffer]);

  const m = TFLITE.model;
  b.startObject(8);
  b.addFieldInt32(m.version, model.uint32(m.version, 0), 0);
  b.addFieldOffset(m.operatorCodes, originalField(m.operatorCodes), 0);
  b.addFieldOffset(m.subgraphs, originalField(m.subgraphs), 0);
  b.addFieldOffset(m.description, originalField(m.description), 0);
  b.addFieldOffset(m.buffers, bufferVector, 0);
  b.addFieldOffset(m.metadataBuffer, originalField(m.metadataBuffer), 0);
  b.addFieldOffset(m.metadata, metadataVector, 0);
  b.addFieldOffset(m.signatureDefs, originalField(m.signatureDefs), 0);
  b.finish(b.endObject(), TFLITE.identifier);

  const header = b.asUint8Array();
  if (header.length % TFLITE.bufferAlignment !== 0) throw new Error('internal: the new root table would misalign the model data');
  const out = new Uint8Array(header.length + tflite.length);
  out.set(header, 0);
  out.set(tflite, header.length);
  return out;
}

export interface ModelMetadataSummary {
  name: string;
  inputName: string;
  colorSpace: number;
  mean: number[];
  std: number[];
}

/** Reads back what withImageMetadata wrote (for checks and tests). */
export function readImageMetadata(tflite: Uint8Array): ModelMetadataSummary {
  const bb = new ByteBuffer(tflite);
  const model = new TableReader(bb, bb.readInt32(0));
  const entry = model.tables(TFLITE.model.metadata).find((e) => e.string(TFLITE.metadataEntry.name) === METADATA.entryName);
  if (!entry) throw new Error(`the model has no ${METADATA.entryName}`);
  const buffer = model.tables(TFLITE.model.buffers)[entry.uint32(TFLITE.metadataEntry.buffer, 0)];
  const dataField = buffer.field(TFLITE.buffer.data);
  const start = bb.__vector(dataField);
  const mb = new ByteBuffer(tflite.subarray(start, start + bb.__vector_len(dataField)));
  if (mb.getBufferIdentifier() !== METADATA.identifier) throw new Error(`metadata buffer has identifier "${mb.getBufferIdentifier()}", expected "${METADATA.identifier}"`);
  const M = METADATA;
  const meta = new TableReader(mb, mb.readInt32(0));
  const input = meta.tables(M.model.subgraphMetadata)[0].tables(M.subgraph.inputTensorMetadata)[0];
  const image = input.table(M.tensor.content).table(M.content.properties);
  const normalization = input.tables(M.tensor.processUnits)[0].table(M.processUnit.options);
  const floats = (slot: number) => {
    const field = normalization.field(slot);
    const begin = mb.__vector(field);
    return Array.from({ length: mb.__vector_len(field) }, (_, i) => mb.readFloat32(begin + 4 * i));
  };
  return {
    name: meta.string(M.model.name),
    inputName: input.string(M.tensor.name),
    colorSpace: mb.readInt8(image.field(M.imageProperties.colorSpace)),
    mean: floats(M.normalization.mean),
    std: floats(M.normalization.std),
  };
}

async function mtime(file: string): Promise<number | undefined> {
  return stat(file).then((s) => s.mtimeMs, () => undefined);
}

/** Writes the patched face model unless an up-to-date one exists; returns its path. */
export async function ensureFaceModel(): Promise<string> {
  const target = path.join(FACE_MODEL_DIR, FACE_MODEL_FILE);
  const built = await mtime(target);
  if (built !== undefined && built >= (await mtime(FACE_MODEL_SOURCE))!) return target;
  const patched = withImageMetadata(new Uint8Array(await readFile(FACE_MODEL_SOURCE)), BLAZEFACE_METADATA);
  await mkdir(FACE_MODEL_DIR, { recursive: true });
  const staging = `${target}.tmp-${process.pid}`;
  await writeFile(staging, patched);
  await rename(staging, target);
  return target;
}
