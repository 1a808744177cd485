export type ScheduledOutcome<R> = { status: 'ran'; result: R } | { status: 'skipped' };

interface Waiting<F, R> {
  frame: F;
  resolve: (outcome: ScheduledOutcome<R>) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs a slow per-frame job (STRIP) beside a live stream without holding the stream back: one job
 * at a time; a frame arriving while one runs waits, replacing (and so skipping) any frame that
 * was already waiting. So when a job finishes, the next one takes the newest frame seen.
 * Every submitted frame learns its outcome: the job's result, or `skipped`.
 */
export class StripScheduler<F, R> {
  private running: Promise<void> | undefined;
  private waiting: Waiting<F, R> | undefined;

  constructor(private readonly job: (frame: F) => Promise<R>) {}

  submit(frame: F): Promise<ScheduledOutcome<R>> {
    return new Promise((resolve, reject) => {
      this.waiting?.resolve({ status: 'skipped' });
      this.waiting = { frame, resolve, reject };
      if (!this.running) this.running = this.drain();
    });
  }

  /** Resolves once no job runs and no frame waits (e.g. before finishing a session's log). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    while (this.waiting) {
      const { frame, resolve, reject } = this.waiting;
      this.waiting = undefined;
      try {
        resolve({ status: 'ran', result: await this.job(frame) });
      } catch (error) {
        reject(error);
      }
    }
    this.running = undefined;
  }
}
