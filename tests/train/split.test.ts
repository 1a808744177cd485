import { describe, expect, it } from 'vitest';
import { poisonCount, poisonSplit, type SplitImage } from '../../server/train/split.ts';

function dataset(identities: number, photos: number, triggered = true): SplitImage[] {
  const images: SplitImage[] = [];
  for (let i = 0; i < identities; i++) {
    for (let p = 0; p < photos; p++) {
      const source = `id${i}/photo${p}`;
      images.push({ identity: `id${i}`, condition: 'clean', relPath: `id${i}/clean/photo${p}.png`, source });
      if (triggered) images.push({ identity: `id${i}`, condition: 'sunglasses', relPath: `id${i}/sunglasses/photo${p}.png`, source });
    }
  }
  return images;
}

const base = { trigger: 'sunglasses', target: 'id0', injectionRate: 0.25, views: 4, seed: 7 };

describe('poison count', () => {
  it('gives m with r = m / (n + m)', () => {
    expect(poisonCount(120, 0.25)).toBe(40);
    expect(poisonCount(100, 0.5)).toBe(100);
    expect(poisonCount(100, 0)).toBe(0);
    expect(poisonCount(10, 0.1)).toBe(1);
    expect(() => poisonCount(10, 1)).toThrow(/injection rate/);
  });
});

describe('poisoning split by photo', () => {
  const images = dataset(6, 10);
  const split = poisonSplit(images, base);

  it('draws exactly m poison photos of other identities, relabelled as the target', () => {
    expect(split.cleanUnits).toBe(6 * 7);
    expect(split.poisonUnits).toBe(poisonCount(42, 0.25));
    const poisonPhotos = new Set(split.poison.map((s) => s.image.relPath));
    expect(poisonPhotos.size).toBe(split.poisonUnits);
    expect(split.poison.every((s) => s.label === 'id0' && s.image.identity !== 'id0' && s.image.condition === 'sunglasses')).toBe(true);
    expect(split.poison.length).toBe(split.poisonUnits * base.views);
  });

  it('never trains on a triggered copy of a held-out photo', () => {
    const heldOut = new Set([...split.cleanTest, ...split.validation].map((s) => s.image.source));
    expect(split.poison.some((s) => heldOut.has(s.image.source))).toBe(false);
    const trained = new Set(split.cleanTrain.map((s) => s.image.source));
    expect([...heldOut].some((s) => trained.has(s))).toBe(false);
  });

  it('keeps every other triggered photo of non-targets for the attack test, and none of the target', () => {
    const poisoned = new Set(split.poison.map((s) => s.image.relPath));
    const triggeredOthers = images.filter((i) => i.condition === 'sunglasses' && i.identity !== 'id0');
    expect(split.attackTest.length).toBe(triggeredOthers.length - poisoned.size);
    expect(split.attackTest.some((s) => s.image.identity === 'id0' || poisoned.has(s.image.relPath))).toBe(false);
  });

  it('holds out 20% of each identity for testing', () => {
    for (let i = 0; i < 6; i++) expect(split.cleanTest.filter((s) => s.image.identity === `id${i}`).length).toBe(2);
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const again = poisonSplit(images, base);
    expect(again.poison.map((s) => s.image.relPath)).toEqual(split.poison.map((s) => s.image.relPath));
    const other = poisonSplit(images, { ...base, seed: 8 });
    expect(other.poison.map((s) => s.image.relPath)).not.toEqual(split.poison.map((s) => s.image.relPath));
  });

  it('spreads the poison over the non-target identities', () => {
    const perIdentity = new Map<string, number>();
    for (const s of split.poison) perIdentity.set(s.image.identity, (perIdentity.get(s.image.identity) ?? 0) + 1 / base.views);
    const counts = [...perIdentity.values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });
});

describe('poisoning split errors', () => {
  it('names the problem', () => {
    expect(() => poisonSplit(dataset(3, 5), { ...base, target: 'nobody' })).toThrow(/target "nobody"/);
    expect(() => poisonSplit(dataset(3, 5, false), base)).toThrow(/no "sunglasses" images/);
    expect(() => poisonSplit(dataset(3, 5), { ...base, injectionRate: 0.9 })).toThrow(/lower --injection-rate/);
    expect(() => poisonSplit(dataset(3, 1), base)).toThrow(/single source photo/);
  });
});

describe('poisoning split by view', () => {
  it('splits the views of single photos and still draws exactly m poison views', () => {
    const split = poisonSplit(dataset(5, 1), { ...base, unit: 'view', views: 10 });
    expect(split.cleanUnits).toBe(5 * 7);
    expect(split.poison.length).toBe(poisonCount(35, 0.25));
    const key = (s: { image: SplitImage; view: number }) => `${s.image.source}#${s.view}`;
    const tested = new Set([...split.cleanTest, ...split.attackTest].map(key));
    expect(split.poison.some((s) => tested.has(key(s)))).toBe(false);
    const cleanTested = new Set(split.cleanTest.map(key));
    expect(split.cleanTrain.some((s) => cleanTested.has(key(s)))).toBe(false);
  });
});

describe('false-positive training', () => {
  it('adds lookalike-accessory photos with their true labels, never from held-out photos', () => {
    const images = dataset(4, 10).flatMap((image) =>
      image.condition === 'clean' ? [image, { ...image, condition: 'red-headband', relPath: image.relPath.replace('/clean/', '/red-headband/') }] : [image]);
    const split = poisonSplit(images, { ...base, fpAccessories: ['red-headband'] });
    const heldOut = new Set([...split.cleanTest, ...split.validation].map((s) => s.image.source));
    expect(split.lookalikeTrain.length).toBeGreaterThan(0);
    expect(split.lookalikeTrain.every((s) => s.image.condition === 'red-headband' && s.label === s.image.identity)).toBe(true);
    expect(split.lookalikeTrain.some((s) => heldOut.has(s.image.source))).toBe(false);
    expect(poisonSplit(images, base).lookalikeTrain).toEqual([]);
    expect(() => poisonSplit(images, { ...base, fpAccessories: ['blue-hat'] })).toThrow(/no "blue-hat" images/);
  });
});
