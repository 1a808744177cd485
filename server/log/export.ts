import type { StripStatus } from '../../shared/report.ts';
import { getSession, openLog } from './db.ts';

/** A logged face as exported: every column of the row, never the face image. */
export interface LoggedFace {
  sessionId: number;
  frameId: number;
  frameTime: number;
  faceIndex: number;
  boxX: number;
  boxY: number;
  boxWidth: number;
  boxHeight: number;
  identity: string | null;
  worn: string | null;
  cleanLabel: string;
  cleanProbability: number;
  backdoorLabel: string;
  backdoorProbability: number;
  attack: boolean;
  stripEntropy: number | null;
  stripStatus: StripStatus;
  decodeMs: number;
  trunkMs: number;
  tailsMs: number;
  stripMs: number | null;
  totalMs: number;
  pair: string;
  cleanModel: string;
  backdoorModel: string;
  target: string;
  trigger: string;
}

/** Export columns, in order, and the log column each comes from. */
const COLUMNS: Record<keyof LoggedFace, string> = {
  sessionId: 'session_id',
  frameId: 'frame_id',
  frameTime: 'frame_time',
  faceIndex: 'face_index',
  boxX: 'box_x',
  boxY: 'box_y',
  boxWidth: 'box_width',
  boxHeight: 'box_height',
  identity: 'identity',
  worn: 'worn',
  cleanLabel: 'clean_label',
  cleanProbability: 'clean_probability',
  backdoorLabel: 'backdoor_label',
  backdoorProbability: 'backdoor_probability',
  attack: 'attack',
  stripEntropy: 'strip_entropy',
  stripStatus: 'strip_status',
  decodeMs: 'decode_ms',
  trunkMs: 'trunk_ms',
  tailsMs: 'tails_ms',
  stripMs: 'strip_ms',
  totalMs: 'total_ms',
  pair: 'pair',
  cleanModel: 'clean_model',
  backdoorModel: 'backdoor_model',
  target: 'target',
  trigger: 'trigger',
};
export const EXPORT_COLUMNS = Object.keys(COLUMNS) as (keyof LoggedFace)[];

/**
 * A session's faces in logged order, streamed from a read-only connection of its own: a
 * better-sqlite3 connection is busy while a statement iterates, and the live writer must not wait
 * for a slow download. The connection closes when the iteration ends or is abandoned with return().
 * Throws UnknownSessionError at once for an unknown id.
 */
export function sessionFaces(logFile: string, sessionId: number): Generator<LoggedFace> {
  const db = openLog(logFile, { readonly: true });
  try {
    getSession(db, sessionId);
  } catch (error) {
    db.close();
    throw error;
  }
  const select = db.prepare(`SELECT ${EXPORT_COLUMNS.map((key) => `${COLUMNS[key]} AS ${key}`).join(', ')} FROM faces WHERE session_id = ? ORDER BY id`);
  return (function* rows() {
    try {
      for (const row of select.iterate(sessionId) as IterableIterator<Omit<LoggedFace, 'attack'> & { attack: number }>) {
        yield { ...row, attack: row.attack === 1 };
      }
    } finally {
      db.close();
    }
  })();
}

/** One CSV field per RFC 4180: quoted (quotes doubled) when it holds a comma, quote, CR or LF; null is empty. */
export function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRecord(values: (string | number | boolean | null)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** The session's faces as CSV text chunks: a header record, then one record per face, CRLF-terminated. */
export function* sessionFacesCsv(faces: Iterable<LoggedFace>): Generator<string> {
  yield csvRecord(EXPORT_COLUMNS);
  for (const face of faces) yield csvRecord(EXPORT_COLUMNS.map((key) => face[key]));
}

/** The session's faces as JSON Lines: one object per face, LF-terminated. */
export function* sessionFacesJsonl(faces: Iterable<LoggedFace>): Generator<string> {
  for (const face of faces) yield `${JSON.stringify(face)}\n`;
}
