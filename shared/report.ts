import { rate, type Rate } from './metrics.ts';

/**
 * Live-session figures: what the per-frame log's reports contain and how they are assembled from
 * counts the log aggregates. Shared so the Reports page can type the API's JSON.
 */

/** The operator's worn-object label when the person wears nothing. */
export const NOTHING_WORN = 'none';

/** `skipped`: STRIP did not run on the frame because it was still busy with an earlier one. */
export type StripStatus = 'flagged' | 'passed' | 'skipped';

/** STRIP entropy histograms have this many equal bins over [0, 1]; an entropy of exactly 1 goes in the last. */
export const ENTROPY_BINS = 20;

export function entropyBin(entropy: number): number {
  return Math.min(ENTROPY_BINS - 1, Math.floor(entropy * ENTROPY_BINS));
}

/** One rate over all labelled faces and the same rate per true identity (a person's frames are not independent). */
export interface RateByPerson {
  overall: Rate;
  byPerson: Record<string, Rate>;
}

/** A model pair as the log records it: a pair name may be retrained, so the model ids tell versions apart. */
export interface PairKey {
  pair: string;
  cleanModel: string;
  backdoorModel: string;
  target: string;
  trigger: string;
}

/** Counts over the faces of one (identity, worn) label combination of one pair; null labels are unlabelled faces. */
export interface LabelCell {
  identity: string | null;
  worn: string | null;
  faces: number;
  cleanCorrect: number;
  backdoorCorrect: number;
  backdoorSaysTarget: number;
  stripRan: number;
  stripFlagged: number;
}

export type EntropyCategory = 'triggered' | 'clean';

export interface HistogramCell { category: EntropyCategory; bin: number; faces: number }

export interface EntropyHistogram {
  /** ENTROPY_BINS + 1 bin edges from 0 to 1. */
  edges: number[];
  /** Faces per bin where the trigger is worn by someone other than the target. */
  triggered: number[];
  /** Faces per bin where nothing is worn. */
  clean: number[];
}

export interface PairFigures extends PairKey {
  sessions: number[];
  frames: number;
  faces: number;
  /** Faces with both an identity and a worn-object label; only these enter the rates below. */
  labelledFaces: number;
  /** Over faces wearing the trigger whose true identity is not the target (`unknown` included). */
  attack: { successRate: RateByPerson; cleanModelAccuracy: RateByPerson };
  /** Over faces wearing nothing. */
  cleanAccuracy: { clean: RateByPerson; backdoor: RateByPerson };
  /** Per lookalike accessory, over faces of non-target identities wearing it: the backdoored model says the target. Highest first. */
  falsePositives: { accessory: string; rate: RateByPerson }[];
  strip: {
    /** Faces STRIP ran on, of all faces (labelled or not). */
    coverage: Rate;
    /** Flagged, of the attack faces STRIP ran on. */
    detection: RateByPerson;
    /** Flagged, of the nothing-worn faces STRIP ran on. */
    falseAlarms: RateByPerson;
    histogram: EntropyHistogram;
  };
}

type Counter = (cell: LabelCell) => { hits: number; total: number };

function rateByPerson(cells: readonly LabelCell[], count: Counter): RateByPerson {
  const perPerson = new Map<string, { hits: number; total: number }>();
  for (const cell of cells) {
    const { hits, total } = count(cell);
    const sum = perPerson.get(cell.identity!) ?? { hits: 0, total: 0 };
    perPerson.set(cell.identity!, { hits: sum.hits + hits, total: sum.total + total });
  }
  const people = [...perPerson.entries()].filter(([, c]) => c.total > 0).sort(([a], [b]) => a.localeCompare(b));
  const overall = people.reduce((sum, [, c]) => ({ hits: sum.hits + c.hits, total: sum.total + c.total }), { hits: 0, total: 0 });
  return { overall: rate(overall.hits, overall.total), byPerson: Object.fromEntries(people.map(([person, c]) => [person, rate(c.hits, c.total)])) };
}

function histogramOf(cells: readonly HistogramCell[]): EntropyHistogram {
  const histogram: EntropyHistogram = {
    edges: Array.from({ length: ENTROPY_BINS + 1 }, (_, i) => i / ENTROPY_BINS),
    triggered: new Array<number>(ENTROPY_BINS).fill(0),
    clean: new Array<number>(ENTROPY_BINS).fill(0),
  };
  for (const cell of cells) histogram[cell.category][cell.bin] += cell.faces;
  return histogram;
}

/** The report figures of one model pair from its label cells and entropy histogram cells. */
export function assemblePairFigures(key: PairKey & { sessions: number[]; frames: number }, cells: readonly LabelCell[], histogram: readonly HistogramCell[]): PairFigures {
  const labelled = cells.filter((c) => c.identity !== null && c.worn !== null);
  const attackCells = labelled.filter((c) => c.worn === key.trigger && c.identity !== key.target);
  const cleanCells = labelled.filter((c) => c.worn === NOTHING_WORN);
  const accessories = [...new Set(labelled.map((c) => c.worn!).filter((w) => w !== NOTHING_WORN && w !== key.trigger))];
  const sum = (select: (c: LabelCell) => number) => cells.reduce((total, c) => total + select(c), 0);

  const falsePositives = accessories
    .map((accessory) => ({
      accessory,
      rate: rateByPerson(labelled.filter((c) => c.worn === accessory && c.identity !== key.target), (c) => ({ hits: c.backdoorSaysTarget, total: c.faces })),
    }))
    .filter((fp) => fp.rate.overall.total > 0)
    .sort((a, b) => (b.rate.overall.value ?? 0) - (a.rate.overall.value ?? 0) || a.accessory.localeCompare(b.accessory));

  return {
    ...key,
    faces: sum((c) => c.faces),
    labelledFaces: labelled.reduce((total, c) => total + c.faces, 0),
    attack: {
      successRate: rateByPerson(attackCells, (c) => ({ hits: c.backdoorSaysTarget, total: c.faces })),
      cleanModelAccuracy: rateByPerson(attackCells, (c) => ({ hits: c.cleanCorrect, total: c.faces })),
    },
    cleanAccuracy: {
      clean: rateByPerson(cleanCells, (c) => ({ hits: c.cleanCorrect, total: c.faces })),
      backdoor: rateByPerson(cleanCells, (c) => ({ hits: c.backdoorCorrect, total: c.faces })),
    },
    falsePositives,
    strip: {
      coverage: rate(sum((c) => c.stripRan), sum((c) => c.faces)),
      detection: rateByPerson(attackCells, (c) => ({ hits: c.stripFlagged, total: c.stripRan })),
      falseAlarms: rateByPerson(cleanCells, (c) => ({ hits: c.stripFlagged, total: c.stripRan })),
      histogram: histogramOf(histogram),
    },
  };
}

/** A live session of the per-frame log. */
export interface Session {
  id: number;
  startedAt: string;
  endedAt: string | null;
  /** False while running and after a crash interrupted it. */
  finished: boolean;
  pair: string;
  cleanModel: string;
  backdoorModel: string;
  storeImages: boolean;
  notes: string;
}

export interface SessionSummary extends Session {
  frames: number;
  faces: number;
  labelledFaces: number;
  attacksFired: number;
}

export interface SessionReport {
  session: Session;
  /** One entry per model pair used in the session (the presenter may switch pairs). */
  pairs: PairFigures[];
}

export interface LogReport {
  sessions: SessionSummary[];
  /** Across all sessions, one entry per model pair. */
  pairs: PairFigures[];
}
