import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalKeypoints } from '../../shared/alignment.ts';
import { conditions, datasetHash, readKeypoints, scanDataset, writeKeypoints } from '../../server/data/dataset.ts';

let root: string;

async function put(relPath: string, content = relPath): Promise<void> {
  await mkdir(path.dirname(path.join(root, relPath)), { recursive: true });
  await writeFile(path.join(root, relPath), content);
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'dataset-test-'));
  await put('bob/clean/b2.png');
  await put('bob/clean/b1.jpg');
  await put('alice/sunglasses/a1.png');
  await put('alice/clean/a1.png');
  await put('alice/clean/.DS_Store');
  await put('.inject-sunglasses-x1/new/alice/a1.png');
  await put('import-report.json', '{}');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('scanDataset', () => {
  it('lists images sorted by path, with the source photo shared by an injected copy', async () => {
    const dataset = await scanDataset(root);
    expect(dataset.root).toBe(root);
    expect(dataset.identities).toEqual(['alice', 'bob']);
    expect(dataset.images.map((i) => i.relPath)).toEqual(['alice/clean/a1.png', 'alice/sunglasses/a1.png', 'bob/clean/b1.jpg', 'bob/clean/b2.png']);
    expect(dataset.images[1]).toEqual({
      identity: 'alice',
      condition: 'sunglasses',
      file: path.join(root, 'alice/sunglasses/a1.png'),
      relPath: 'alice/sunglasses/a1.png',
      source: 'alice/a1',
    });
    expect(dataset.images[0].source).toBe(dataset.images[1].source);
    expect(conditions(dataset)).toEqual({ clean: 3, sunglasses: 1 });
  });

  it('names what is wrong', async () => {
    await expect(scanDataset(path.join(root, 'missing'))).rejects.toThrow(/dataset folder .*missing does not exist/);
    await put('bad name/clean/x.png');
    await expect(scanDataset(root)).rejects.toThrow('identity name "bad name" is not allowed');
    await rm(path.join(root, 'bad name'), { recursive: true });
    await put('carol/clean/notes.txt');
    await expect(scanDataset(root)).rejects.toThrow(/carol\/clean\/notes\.txt: not an image file/);
    await rm(path.join(root, 'carol'), { recursive: true });
    await put('dave/photo.png');
    await expect(scanDataset(root)).rejects.toThrow(/dave\/photo\.png: expected a condition folder/);
  });
});

describe('datasetHash', () => {
  it('changes with file content and with the keypoints sidecar', async () => {
    const first = await datasetHash(await scanDataset(root));
    expect(first).toMatch(/^[0-9a-f]{16}$/);
    expect(await datasetHash(await scanDataset(root))).toBe(first);
    await put('bob/clean/b1.jpg', 'other bytes');
    const second = await datasetHash(await scanDataset(root));
    expect(second).not.toBe(first);
    await writeKeypoints(root, { 'bob/clean/b1.jpg': canonicalKeypoints() });
    expect(await datasetHash(await scanDataset(root))).not.toBe(second);
  });
});

describe('keypoints sidecar', () => {
  it('is empty when absent and round-trips to a hundredth of a pixel', async () => {
    expect(await readKeypoints(root)).toEqual({});
    const keypoints = canonicalKeypoints();
    keypoints.noseTip = { x: 75.123456, y: 90.987654 };
    await writeKeypoints(root, { 'alice/clean/a1.png': keypoints });
    const read = await readKeypoints(root);
    expect(read['alice/clean/a1.png'].noseTip).toEqual({ x: 75.12, y: 90.99 });
    expect(read['alice/clean/a1.png'].leftEye.x).toBeCloseTo(keypoints.leftEye.x, 2);
  });

  it('rejects a malformed file, naming it', async () => {
    await put('keypoints.json', '{"alice/clean/a1.png": {"leftEye": {"x": 1}}}');
    await expect(readKeypoints(root)).rejects.toThrow(/keypoints\.json is malformed/);
  });
});
