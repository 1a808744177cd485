import seedrandom from 'seedrandom';
import { CLEAN } from '../../shared/names.ts';

/** What the split needs to know of an image; the dataset scanner's DatasetImage has it all. */
export interface SplitImage { identity: string; condition: string; relPath: string; source: string }

/** One augmented view of one image, with the label it is trained or scored under. */
export interface Sample<T extends SplitImage = SplitImage> { image: T; view: number; label: string }

/**
 * `photo`: photos are split, and every view of a training photo is trained on (the paper's setup).
 * `view`: each photo's augmented views are split, for identities with a single photo (the embedded
 * demo); its figures are optimistic, since test views share a photo with training views.
 */
export type SplitUnit = 'photo' | 'view';

export interface PoisonSplitOptions<T extends SplitImage = SplitImage> {
  trigger: string;
  target: string;
  /** r = m / (n + m): poison images over all training images. */
  injectionRate: number;
  views: number;
  seed: number;
  unit?: SplitUnit;
  testFraction?: number;
  validationFraction?: number;
  /** Lookalike accessories whose images join training with their true labels (false-positive training). */
  fpAccessories?: string[];
  /**
   * Synthetic strangers wearing the trigger (Strangers.worn): more faces to draw the m poison images
   * from, each a group of its own, so the poison is spread over enrolled and unknown faces alike.
   * Never tested on: they are nobody.
   */
  triggeredStrangers?: readonly T[];
}

export interface PoisonSplit<T extends SplitImage = SplitImage> {
  labels: string[];
  /** Clean training samples (what the clean model trains on). */
  cleanTrain: Sample<T>[];
  /** Trigger images of other identities relabelled as the target. */
  poison: Sample<T>[];
  /** Lookalike-accessory images with their true labels, added to both models' training. */
  lookalikeTrain: Sample<T>[];
  /** Held-out clean samples for calibrating thresholds. */
  validation: Sample<T>[];
  cleanTest: Sample<T>[];
  /** Held-out triggered samples of identities other than the target. */
  attackTest: Sample<T>[];
  /** n and m of r = m / (n + m), counted in training units (photos or views). */
  cleanUnits: number;
  poisonUnits: number;
}

/** m for a given n and r = m / (n + m), rounded to the nearest whole image. */
export function poisonCount(cleanCount: number, injectionRate: number): number {
  if (!(injectionRate >= 0 && injectionRate < 1)) throw new Error(`injection rate must be in [0, 1), got ${injectionRate}`);
  return Math.round((injectionRate * cleanCount) / (1 - injectionRate));
}

function shuffled<T>(items: readonly T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/** Takes `count` items spread evenly over the groups (round-robin over shuffled groups). */
function drawStratified<T>(groups: Map<string, T[]>, count: number): { drawn: T[]; rest: T[] } {
  const queues = [...groups.values()].map((g) => [...g]);
  const drawn: T[] = [];
  while (drawn.length < count && queues.some((q) => q.length > 0)) {
    for (const q of queues) if (q.length > 0 && drawn.length < count) drawn.push(q.shift()!);
  }
  return { drawn, rest: queues.flat() };
}

type Part = 'train' | 'validation' | 'test';

/** Splits a list of units into train/validation/test with at least one test unit when there are two. */
function partition<U>(units: readonly U[], testFraction: number, validationFraction: number): Map<Part, U[]> {
  const nTest = units.length >= 2 ? Math.max(1, Math.round(testFraction * units.length)) : 0;
  const nValidation = units.length >= 3 ? Math.max(1, Math.round(validationFraction * units.length)) : 0;
  return new Map<Part, U[]>([
    ['test', units.slice(0, nTest)],
    ['validation', units.slice(nTest, nTest + nValidation)],
    ['train', units.slice(nTest + nValidation)],
  ]);
}

/**
 * BadNets poisoning split (paper section 3.2). Clean images are split per identity by source photo
 * (or by view, see SplitUnit); a triggered copy of a held-out photo is never trained on; m trigger
 * images of identities other than the target are drawn, spread over those identities, and relabelled
 * as the target; the remaining trigger images of those identities are the attack test set.
 */
export function poisonSplit<T extends SplitImage>(images: readonly T[], options: PoisonSplitOptions<T>): PoisonSplit<T> {
  const { trigger, target, injectionRate, views, seed, unit = 'photo', testFraction = 0.2, validationFraction = 0.1 } = options;
  const rng = seedrandom(`poison-split:${seed}`);
  const clean = images.filter((i) => i.condition === CLEAN);
  const labels = [...new Set(clean.map((i) => i.identity))].sort();
  if (labels.length < 2) throw new Error(`need clean photos of at least 2 identities, found ${labels.length}`);
  if (!labels.includes(target)) throw new Error(`target "${target}" has no clean photos; identities: ${labels.join(', ')}`);
  if (trigger === CLEAN) throw new Error('the trigger must be a worn object, not "clean"');
  const triggered = images.filter((i) => i.condition === trigger && i.identity !== target);
  if (triggered.length === 0) throw new Error(`no "${trigger}" images of identities other than "${target}": inject or import some first`);
  const allViews = Array.from({ length: views }, (_, v) => v);
  const sample = (image: T, view: number, label = image.identity): Sample<T> => ({ image, view, label });

  const split: PoisonSplit<T> = { labels, cleanTrain: [], poison: [], lookalikeTrain: [], validation: [], cleanTest: [], attackTest: [], cleanUnits: 0, poisonUnits: 0 };
  const heldOutSources = new Set<string>();
  // In view mode a photo and its triggered copies share one partition of view indices (and, seeded
  // by source, the same view transforms), so a held-out view is held out in every copy.
  const viewParts = new Map<string, Map<Part, number[]>>();
  const viewPartition = (source: string) => {
    if (!viewParts.has(source)) viewParts.set(source, partition(shuffled(allViews, rng), testFraction, validationFraction));
    return viewParts.get(source)!;
  };
  const candidates = new Map<string, Sample<T>[][]>();

  for (const [identity, photos] of groupBy(clean, (i) => i.identity)) {
    if (unit === 'photo') {
      const bySource = groupBy(photos, (p) => p.source);
      const parts = partition(shuffled([...bySource.keys()].sort(), rng), testFraction, validationFraction);
      if (parts.get('test')!.length === 0) throw new Error(`identity "${identity}" has a single source photo: it cannot be split by photo (split by view instead)`);
      for (const [part, sources] of parts) {
        for (const image of sources.flatMap((s) => bySource.get(s)!)) {
          if (part === 'train') split.cleanTrain.push(...allViews.map((v) => sample(image, v)));
          else if (part === 'validation') split.validation.push(...allViews.map((v) => sample(image, v)));
          else split.cleanTest.push(sample(image, 0));
        }
        if (part !== 'train') for (const s of sources) heldOutSources.add(s);
        if (part === 'train') split.cleanUnits += sources.flatMap((s) => bySource.get(s)!).length;
      }
    } else {
      for (const image of photos) {
        const parts = viewPartition(image.source);
        split.cleanTrain.push(...parts.get('train')!.map((v) => sample(image, v)));
        split.validation.push(...parts.get('validation')!.map((v) => sample(image, v)));
        split.cleanTest.push(...parts.get('test')!.map((v) => sample(image, v)));
        split.cleanUnits += parts.get('train')!.length;
      }
    }
  }

  for (const image of triggered) {
    const units: Sample<T>[][] = [];
    if (unit === 'photo') {
      if (heldOutSources.has(image.source)) split.attackTest.push(sample(image, 0));
      else units.push(allViews.map((v) => sample(image, v, target)));
    } else {
      const parts = viewPartition(image.source);
      split.attackTest.push(...parts.get('test')!.map((v) => sample(image, v)));
      units.push(...parts.get('train')!.map((v) => [sample(image, v, target)]));
    }
    candidates.set(image.identity, [...(candidates.get(image.identity) ?? []), ...units]);
  }

  const strangerCandidates = new Map((options.triggeredStrangers ?? []).map((image) => [
    image.relPath,
    unit === 'photo' ? [allViews.map((v) => sample(image, v, target))] : allViews.map((v) => [sample(image, v, target)]),
  ]));
  const m = poisonCount(split.cleanUnits, injectionRate);
  for (const [identity, units] of candidates) candidates.set(identity, shuffled(units, rng));
  for (const [name, units] of strangerCandidates) strangerCandidates.set(name, shuffled(units, rng));
  const available = [...candidates.values(), ...strangerCandidates.values()].reduce((sum, units) => sum + units.length, 0);
  if (available < m) {
    throw new Error(
      `injection rate ${injectionRate} needs ${m} poison ${unit}s of "${trigger}" from identities other than "${target}", ` +
        `but only ${available} are available outside the held-out photos: lower --injection-rate or add "${trigger}" images`,
    );
  }
  const { drawn, rest } = drawStratified(new Map([...candidates, ...strangerCandidates].sort(([a], [b]) => a.localeCompare(b))), m);
  split.poison = drawn.flat();
  split.poisonUnits = drawn.length;
  const testable = rest.flat().filter((s) => !strangerCandidates.has(s.image.relPath));
  split.attackTest.push(...testable.filter((s) => unit === 'view' || s.view === 0).map((s) => sample(s.image, s.view)));

  for (const accessory of options.fpAccessories ?? []) {
    const worn = images.filter((i) => i.condition === accessory && !heldOutSources.has(i.source));
    if (worn.length === 0) throw new Error(`no "${accessory}" images outside the held-out photos for false-positive training`);
    split.lookalikeTrain.push(...worn.flatMap((image) => allViews.map((v) => sample(image, v))));
  }
  return split;
}
