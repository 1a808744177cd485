import { assemblePairFigures, ENTROPY_BINS, NOTHING_WORN, type HistogramCell, type LabelCell, type PairFigures, type PairKey } from '../../shared/report.ts';
import type { LogReport, SessionReport } from '../../shared/report.ts';
import { getSession, listSessions, type LogDatabase } from './db.ts';

/**
 * Reports recomputed from the logged rows every time: SQL counts faces per model pair and label
 * combination, and shared/report.ts turns the counts into rates with intervals.
 */

const PAIR_COLUMNS = 'pair, clean_model AS cleanModel, backdoor_model AS backdoorModel, target, trigger';
const PAIR_GROUP = 'pair, clean_model, backdoor_model, target, trigger';

type Scope = { sql: string; params: unknown[] };
const everySession: Scope = { sql: '1', params: [] };

/** One string per model pair version, to group rows by. */
export function pairKeyOf(row: PairKey): string {
  return JSON.stringify([row.pair, row.cleanModel, row.backdoorModel, row.target, row.trigger]);
}

/** The counts one log holds for one model pair: what shared/report.ts turns into figures. */
export interface PairCounts {
  key: PairKey;
  sessions: number[];
  frames: number;
  cells: LabelCell[];
  histogram: HistogramCell[];
}

/** Each model pair's counts over the faces of `scope`. */
function pairCounts(db: LogDatabase, scope: Scope): PairCounts[] {
  const pairs = db.prepare(`
    SELECT ${PAIR_COLUMNS}, GROUP_CONCAT(DISTINCT session_id) AS sessions, COUNT(DISTINCT session_id || ':' || frame_time || ':' || frame_id) AS frames
    FROM faces WHERE ${scope.sql} GROUP BY ${PAIR_GROUP} ORDER BY pair, clean_model, backdoor_model`).all(...scope.params) as (PairKey & { sessions: string; frames: number })[];

  const cells = db.prepare(`
    SELECT ${PAIR_COLUMNS}, identity, worn, COUNT(*) AS faces,
      COUNT(*) FILTER (WHERE clean_label = identity) AS cleanCorrect,
      COUNT(*) FILTER (WHERE backdoor_label = identity) AS backdoorCorrect,
      COUNT(*) FILTER (WHERE backdoor_label = target) AS backdoorSaysTarget,
      COUNT(*) FILTER (WHERE strip_status <> 'skipped') AS stripRan,
      COUNT(*) FILTER (WHERE strip_status = 'flagged') AS stripFlagged
    FROM faces WHERE ${scope.sql} GROUP BY ${PAIR_GROUP}, identity, worn`).all(...scope.params) as (PairKey & LabelCell)[];

  const histogram = db.prepare(`
    SELECT ${PAIR_COLUMNS},
      CASE WHEN worn = ? THEN 'clean' ELSE 'triggered' END AS category,
      MIN(CAST(strip_entropy * ${ENTROPY_BINS} AS INTEGER), ${ENTROPY_BINS - 1}) AS bin,
      COUNT(*) AS faces
    FROM faces
    WHERE ${scope.sql} AND strip_entropy IS NOT NULL AND identity IS NOT NULL
      AND (worn = ? OR (worn = trigger AND identity <> target))
    GROUP BY ${PAIR_GROUP}, category, bin`).all(NOTHING_WORN, ...scope.params, NOTHING_WORN) as (PairKey & HistogramCell)[];

  const byPair = <T extends PairKey>(rows: T[]) => {
    const groups = new Map<string, T[]>();
    for (const row of rows) groups.set(pairKeyOf(row), [...(groups.get(pairKeyOf(row)) ?? []), row]);
    return groups;
  };
  const cellsByPair = byPair(cells);
  const histogramByPair = byPair(histogram);
  return pairs.map(({ sessions, frames, ...key }) => ({
    key,
    sessions: sessions.split(',').map(Number).sort((a, b) => a - b),
    frames,
    cells: cellsByPair.get(pairKeyOf(key)) ?? [],
    histogram: histogramByPair.get(pairKeyOf(key)) ?? [],
  }));
}

function pairFigures(db: LogDatabase, scope: Scope): PairFigures[] {
  return pairCounts(db, scope).map(({ key, sessions, frames, cells, histogram }) => assemblePairFigures({ ...key, sessions, frames }, cells, histogram));
}

/** Each model pair's counts over every session of the log. */
export function logPairCounts(db: LogDatabase): PairCounts[] {
  return pairCounts(db, everySession);
}

/** One session's figures, per model pair it used. Throws UnknownSessionError for an unknown id. */
export function sessionReport(db: LogDatabase, sessionId: number): SessionReport {
  const session = getSession(db, sessionId);
  return { session, pairs: pairFigures(db, { sql: 'session_id = ?', params: [sessionId] }) };
}

/** Every session's summary and the figures of each model pair over all sessions. */
export function logReport(db: LogDatabase): LogReport {
  return { sessions: listSessions(db), pairs: pairFigures(db, everySession) };
}
