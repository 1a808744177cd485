import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Session, SessionSummary } from '../../shared/report.ts';
import { dataDir } from '../config.ts';

/**
 * The per-frame log: one SQLite file holding live sessions and one row per face per frame.
 * WAL journaling with synchronous=NORMAL: a committed transaction survives a crash of the server
 * (not necessarily a power cut), and readers (reports, exports) never wait for the writer.
 */
export type LogDatabase = Database.Database;

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  started_at INTEGER NOT NULL,            -- epoch ms
  ended_at INTEGER,                       -- NULL: still running, or interrupted by a crash
  pair TEXT NOT NULL,                     -- the pair active when the session started
  clean_model TEXT NOT NULL,
  backdoor_model TEXT NOT NULL,
  store_images INTEGER NOT NULL CHECK (store_images IN (0, 1)),
  notes TEXT NOT NULL DEFAULT ''
);

-- One row per face per frame. The model columns repeat per row because the presenter may switch
-- the active pair during a session.
CREATE TABLE faces (
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  frame_id INTEGER NOT NULL,
  frame_time INTEGER NOT NULL,            -- epoch ms when the server received the frame
  face_index INTEGER NOT NULL,
  box_x REAL NOT NULL,
  box_y REAL NOT NULL,
  box_width REAL NOT NULL,
  box_height REAL NOT NULL,
  identity TEXT,                          -- operator's label: an identity, 'unknown', or NULL (unlabelled)
  worn TEXT,                              -- operator's label: 'none', the trigger, an accessory, or NULL
  clean_label TEXT NOT NULL,
  clean_probability REAL NOT NULL,
  backdoor_label TEXT NOT NULL,
  backdoor_probability REAL NOT NULL,
  attack INTEGER NOT NULL CHECK (attack IN (0, 1)),
  strip_entropy REAL CHECK (strip_entropy BETWEEN 0 AND 1),
  strip_status TEXT NOT NULL CHECK (strip_status IN ('flagged', 'passed', 'skipped')),
  decode_ms REAL NOT NULL,
  trunk_ms REAL NOT NULL,
  tails_ms REAL NOT NULL,
  strip_ms REAL,
  total_ms REAL NOT NULL,
  pair TEXT NOT NULL,
  clean_model TEXT NOT NULL,
  backdoor_model TEXT NOT NULL,
  target TEXT NOT NULL,
  trigger TEXT NOT NULL,
  CHECK ((strip_status = 'skipped') = (strip_entropy IS NULL))
);
CREATE INDEX faces_by_session ON faces (session_id, id);
CREATE INDEX faces_by_pair ON faces (pair, clean_model, backdoor_model);

-- Face images are biometric data: kept apart from the rows, and only for sessions that store them.
CREATE TABLE face_images (
  face_id INTEGER PRIMARY KEY REFERENCES faces (id) ON DELETE CASCADE,
  image BLOB NOT NULL
);
CREATE TRIGGER face_images_only_when_stored BEFORE INSERT ON face_images
WHEN (SELECT s.store_images FROM faces f JOIN sessions s ON s.id = f.session_id WHERE f.id = NEW.face_id) = 0
BEGIN SELECT RAISE(ABORT, 'this session does not store face images'); END;

PRAGMA user_version = ${SCHEMA_VERSION};
`;

/** `data/log/frames.sqlite`, under DATA_DIR when set. */
export function defaultLogFile(): string {
  return path.join(dataDir(), 'log', 'frames.sqlite');
}

export class UnknownSessionError extends Error {
  constructor(readonly sessionId: number) {
    super(`no session with id ${sessionId} in the frame log`);
  }
}

/**
 * Opens (creating when needed, unless `create` is false) the frame log. `readonly` opens an existing
 * log for reports and exports, on a connection of its own, and fails when there is none.
 */
export function openLog(file: string, { readonly = false, create = !readonly }: { readonly?: boolean; create?: boolean } = {}): LogDatabase {
  if (!create && !existsSync(file)) throw new Error(`no frame log at ${file} (no session has been recorded there)`);
  if (!readonly) mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { readonly });
  try {
    if (!readonly) db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === 0) {
      const tables = db.prepare("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'").pluck().get() as number;
      if (tables > 0) throw new Error('it is a SQLite database with other tables, not a frame log');
      if (readonly) throw new Error('it is an empty database, not a frame log');
      db.exec(SCHEMA);
    } else if (version !== SCHEMA_VERSION) {
      throw new Error(`its schema version is ${version}; this program reads version ${SCHEMA_VERSION}`);
    }
  } catch (error) {
    db.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot use ${file} as the frame log: ${reason}`);
  }
  return db;
}

export interface NewSession {
  pair: string;
  cleanModel: string;
  backdoorModel: string;
  /** Face images are kept only when the presenter switches this on for the session. */
  storeImages?: boolean;
  notes?: string;
  startedAt?: number;
}

export function startSession(db: LogDatabase, session: NewSession): number {
  const { lastInsertRowid } = db
    .prepare('INSERT INTO sessions (started_at, pair, clean_model, backdoor_model, store_images, notes) VALUES (?, ?, ?, ?, ?, ?)')
    .run(session.startedAt ?? Date.now(), session.pair, session.cleanModel, session.backdoorModel, session.storeImages ? 1 : 0, session.notes ?? '');
  return Number(lastInsertRowid);
}

export function finishSession(db: LogDatabase, sessionId: number, endedAt = Date.now()): void {
  const session = getSession(db, sessionId);
  if (session.finished) throw new Error(`session ${sessionId} already finished at ${session.endedAt}`);
  db.prepare('UPDATE sessions SET ended_at = ? WHERE id = ?').run(endedAt, sessionId);
}

/**
 * Deletes a session with its face rows and face images, then rebuilds the file (VACUUM) and
 * checkpoints the write-ahead log into it, so no copy of the images is left in free pages.
 * `purged` is false when another connection was reading and the write-ahead log could not be emptied
 * yet: its old pages are overwritten at a later checkpoint. The rebuild holds the log's write lock, so
 * it is refused while any session is unfinished (one may be recording) unless `unfinished` says they
 * were cut short by a crash, which the log cannot tell apart.
 */
export function deleteSession(db: LogDatabase, sessionId: number, { unfinished = false } = {}): { session: Session; purged: boolean } {
  const session = getSession(db, sessionId);
  const open = db.prepare('SELECT id FROM sessions WHERE ended_at IS NULL ORDER BY id').pluck().all() as number[];
  if (open.length > 0 && !unfinished) {
    throw new Error(`session${open.length > 1 ? 's' : ''} ${open.join(', ')} ${open.length > 1 ? 'are' : 'is'} unfinished: one may be recording, and deleting rebuilds the log file, which would stall it. Stop recording first; if they were cut short by a crash, delete with --unfinished`);
  }
  db.prepare('DELETE FROM sessions WHERE id = ?').run(sessionId);
  db.exec('VACUUM');
  const [checkpoint] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
  return { session, purged: checkpoint.busy === 0 };
}

interface SessionRow {
  id: number;
  started_at: number;
  ended_at: number | null;
  pair: string;
  clean_model: string;
  backdoor_model: string;
  store_images: number;
  notes: string;
}

function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    startedAt: new Date(row.started_at).toISOString(),
    endedAt: row.ended_at === null ? null : new Date(row.ended_at).toISOString(),
    finished: row.ended_at !== null,
    pair: row.pair,
    cleanModel: row.clean_model,
    backdoorModel: row.backdoor_model,
    storeImages: row.store_images === 1,
    notes: row.notes,
  };
}

export function getSession(db: LogDatabase, sessionId: number): Session {
  const row = db.prepare('SELECT * FROM sessions WHERE id = ?').get(sessionId) as SessionRow | undefined;
  if (!row) throw new UnknownSessionError(sessionId);
  return toSession(row);
}

/** Every session, newest first, with its frame and face counts. */
export function listSessions(db: LogDatabase): SessionSummary[] {
  const rows = db.prepare(`
    SELECT s.*,
      COUNT(DISTINCT f.frame_time || ':' || f.frame_id) AS frames,
      COUNT(f.id) AS faces,
      COUNT(f.id) FILTER (WHERE f.identity IS NOT NULL AND f.worn IS NOT NULL) AS labelled_faces,
      COUNT(f.id) FILTER (WHERE f.attack = 1) AS attacks_fired
    FROM sessions s LEFT JOIN faces f ON f.session_id = s.id
    GROUP BY s.id ORDER BY s.started_at DESC, s.id DESC`).all() as (SessionRow & { frames: number; faces: number; labelled_faces: number; attacks_fired: number })[];
  return rows.map((row) => ({ ...toSession(row), frames: row.frames, faces: row.faces, labelledFaces: row.labelled_faces, attacksFired: row.attacks_fired }));
}
