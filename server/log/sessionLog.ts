import { rate } from '../../shared/metrics.ts';
import type { SessionStatus } from '../../shared/protocol.ts';
import type { LogDatabase } from './db.ts';
import { sessionReport } from './reports.ts';
import { FrameLogWriter } from './writer.ts';

/** Live counters are recomputed from the log at most this often. */
const STATUS_INTERVAL_MS = 1000;

/** One logging session: its writer, and live counters recomputed from its rows. */
export class SessionLog {
  readonly writer: FrameLogWriter;
  private statusSentAt = 0;
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: LogDatabase,
    readonly id: number,
    readonly storeImages: boolean,
    private readonly send: (status: SessionStatus) => void,
    /** STRIP faces measured per second over the whole server, for the status bar. */
    private readonly stripFacesPerSecond: () => number,
  ) {
    this.writer = new FrameLogWriter(db, id);
  }

  /** Sends the counters now, or once STATUS_INTERVAL_MS has passed since the last time. */
  reportStatus(): void {
    const wait = this.statusSentAt + STATUS_INTERVAL_MS - Date.now();
    if (wait <= 0) this.sendStatus();
    else this.statusTimer ??= setTimeout(() => this.sendStatus(), wait).unref();
  }

  private sendStatus(): void {
    clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    this.statusSentAt = Date.now();
    try {
      this.writer.flush();
      const { pairs } = sessionReport(this.db, this.id);
      const sum = (of: (p: (typeof pairs)[number]) => { hits: number; total: number }) =>
        rate(pairs.reduce((s, p) => s + of(p).hits, 0), pairs.reduce((s, p) => s + of(p).total, 0));
      this.send({
        id: this.id,
        storeImages: this.storeImages,
        framesLogged: pairs.reduce((s, p) => s + p.frames, 0),
        attackSuccess: sum((p) => p.attack.successRate.overall),
        strip: { coverage: sum((p) => p.strip.coverage), facesPerSecond: this.stripFacesPerSecond() },
      });
    } catch (error) {
      console.error(`session ${this.id}: cannot report live counters: ${(error as Error).message}`);
    }
  }

  finish(): void {
    clearTimeout(this.statusTimer);
    this.writer.finishSession();
  }
}
