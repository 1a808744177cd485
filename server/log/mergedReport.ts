import { assemblePairFigures, type PairFigures } from '../../shared/report.ts';
import type { LogDatabase } from './db.ts';
import { logPairCounts, pairKeyOf, type PairCounts } from './reports.ts';

/**
 * One report over several frame logs: the logs of the servers of a cluster, each of which keeps its
 * own. Every log's counts per model pair are put together and turned into figures once, by the same
 * arithmetic as a single log's report (shared/report.ts).
 */

/** A log to merge: its file (to name it) and an open handle on it. */
export interface NamedLog { file: string; db: LogDatabase }

/** A pair's figures over every session of every log; session ids are per log, so they are listed by log. */
export type MergedPairFigures = Omit<PairFigures, 'sessions'> & { sessions: { log: string; ids: number[] }[] };

export interface MergedReport {
  /** The logs, in the order given, with what each holds. */
  logs: { file: string; sessions: number; faces: number }[];
  pairs: MergedPairFigures[];
}

export function mergedLogReport(logs: readonly NamedLog[]): MergedReport {
  const byPair = new Map<string, { counts: PairCounts; log: string }[]>();
  for (const { file, db } of logs) {
    for (const counts of logPairCounts(db)) {
      const key = pairKeyOf(counts.key);
      byPair.set(key, [...(byPair.get(key) ?? []), { counts, log: file }]);
    }
  }
  const pairs = [...byPair.values()].map((parts) => {
    const { key } = parts[0].counts;
    // Frames of different logs are different frames (each server answers its own clients).
    const frames = parts.reduce((total, { counts }) => total + counts.frames, 0);
    const { sessions: _perLog, ...figures } = assemblePairFigures(
      { ...key, sessions: [], frames },
      parts.flatMap(({ counts }) => counts.cells),
      parts.flatMap(({ counts }) => counts.histogram),
    );
    return { ...figures, sessions: parts.map(({ counts, log }) => ({ log, ids: counts.sessions })) };
  });
  pairs.sort((a, b) => a.pair.localeCompare(b.pair) || a.cleanModel.localeCompare(b.cleanModel) || a.backdoorModel.localeCompare(b.backdoorModel));
  return {
    logs: logs.map(({ file, db }) => ({
      file,
      sessions: db.prepare('SELECT COUNT(*) FROM sessions').pluck().get() as number,
      faces: db.prepare('SELECT COUNT(*) FROM faces').pluck().get() as number,
    })),
    pairs,
  };
}
