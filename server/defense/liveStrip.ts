import { rate } from '../../shared/metrics.ts';
import type { StripHealth } from '../../shared/protocol.ts';
import type { ModelCard } from '../ml/bundle.ts';
import type { BackgroundJob, InferencePool } from '../ml/inferencePool.ts';

/** A classified frame STRIP is asked to check: its raw chips and the backdoored model that classified them. */
export interface StripFrame { pair: string; chips: readonly Uint8Array[]; backdoor: ModelCard }

export type StripOutcome = { status: 'ran'; entropies: number[]; ms: number; threshold: number } | { status: 'skipped' };

/** The window `facesPerSecond` is measured over. */
const RATE_WINDOW_MS = 10_000;

interface Waiting { frame: StripFrame; resolve(outcome: StripOutcome): void }

/** One client's place in the STRIP line: at most one frame waiting (its newest) and one running. */
export class StripClient {
  waiting: Waiting | undefined;
  private running = new Set<Promise<void>>();

  constructor(private readonly owner: LiveStrip) {}

  /** STRIP on this frame when spare compute allows; `skipped` if a newer frame replaces it first. */
  submit(frame: StripFrame): Promise<StripOutcome> {
    return new Promise((resolve) => {
      this.waiting?.resolve({ status: 'skipped' });
      this.waiting = undefined;
      if (!this.owner.admit(frame)) return resolve({ status: 'skipped' });
      this.waiting = { frame, resolve };
    });
  }

  /** Marks a frame taken by the pool as running until it settles. */
  track(done: Promise<void>): void {
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
  }

  /** Skips the waiting frame and resolves once the running one has its result (before a session's log is finished). */
  async settle(): Promise<void> {
    this.waiting?.resolve({ status: 'skipped' });
    this.waiting = undefined;
    await Promise.all(this.running);
  }

  async close(): Promise<void> {
    await this.settle();
    this.owner.remove(this);
  }
}

/**
 * STRIP for every live client on the capacity classification leaves over. The inference pool asks
 * for work whenever a worker is free and no frame waits; clients take turns, and each hands over
 * its newest frame. A model without STRIP calibration is reported once and its frames skipped.
 */
export class LiveStrip {
  private readonly clients: StripClient[] = [];
  private turn = 0;
  private readonly reported = new Set<string>();
  private offeredFaces = 0;
  private measuredFaces = 0;
  private readonly recent: { at: number; faces: number }[] = [];
  private readonly startedAt = performance.now();

  constructor(private readonly pool: InferencePool) {
    pool.setBackground((pair, chipBudget) => this.next(pair, chipBudget));
  }

  client(): StripClient {
    const client = new StripClient(this);
    this.clients.push(client);
    return client;
  }

  /** Coverage over all faces offered since start; faces per second over the last RATE_WINDOW_MS. */
  stats(): StripHealth {
    this.forgetOld();
    const windowSeconds = Math.max(1000, Math.min(RATE_WINDOW_MS, performance.now() - this.startedAt)) / 1000;
    return { coverage: rate(this.measuredFaces, this.offeredFaces), facesPerSecond: this.recent.reduce((sum, r) => sum + r.faces, 0) / windowSeconds };
  }

  /** @internal for StripClient: counts the frame's faces as offered; false when its model cannot be checked. */
  admit({ backdoor, chips }: StripFrame): boolean {
    this.offeredFaces += chips.length;
    if (backdoor.strip) {
      queueMicrotask(() => this.pool.wake());
      return true;
    }
    if (!this.reported.has(backdoor.name)) {
      this.reported.add(backdoor.name);
      console.error(`STRIP is off for "${backdoor.name}": its card has no STRIP calibration (retrain the pair to calibrate it)`);
    }
    return false;
  }

  /** @internal for StripClient */
  remove(client: StripClient): void {
    const at = this.clients.indexOf(client);
    if (at >= 0) this.clients.splice(at, 1);
  }

  /**
   * The newest frame of each client in turn, as many as fit `chipBudget` blended chips (at least
   * one frame): on a GPU several clients' frames share one STRIP call.
   */
  private next(pair: string, chipBudget: number): BackgroundJob | undefined {
    const taken: { client: StripClient; waiting: Waiting }[] = [];
    let blendedChips = 0;
    const first = this.turn;
    for (let tried = 0; tried < this.clients.length; tried++) {
      const at = (first + tried) % this.clients.length;
      const client = this.clients[at];
      const waiting = client.waiting;
      if (!waiting) continue;
      // A frame of a pair switched away from is no longer loaded on the workers.
      if (waiting.frame.pair !== pair) {
        client.waiting = undefined;
        waiting.resolve({ status: 'skipped' });
        continue;
      }
      const cost = waiting.frame.chips.length * waiting.frame.backdoor.strip!.blends;
      if (taken.length > 0 && blendedChips + cost > chipBudget) break;
      client.waiting = undefined;
      taken.push({ client, waiting });
      blendedChips += cost;
      this.turn = (at + 1) % this.clients.length;
    }
    return taken.length > 0 ? this.job(pair, taken) : undefined;
  }

  private job(pair: string, taken: { client: StripClient; waiting: Waiting }[]): BackgroundJob {
    const settled: (() => void)[] = [];
    for (const { client } of taken) client.track(new Promise<void>((resolve) => settled.push(resolve)));
    return {
      pair,
      chips: taken.flatMap(({ waiting }) => waiting.frame.chips),
      blends: taken[0].waiting.frame.backdoor.strip!.blends,
      settle: (outcome) => {
        if (outcome instanceof Error) console.error(`STRIP failed on ${taken.length} frame(s) of pair "${pair}": ${outcome.message}`);
        let offset = 0;
        for (const { waiting: { frame, resolve } } of taken) {
          const faces = frame.chips.length;
          if (outcome === 'skipped' || outcome instanceof Error) {
            resolve({ status: 'skipped' });
          } else {
            this.measuredFaces += faces;
            this.forgetOld();
            this.recent.push({ at: performance.now(), faces });
            resolve({ status: 'ran', entropies: outcome.entropies.slice(offset, offset + faces), ms: outcome.ms, threshold: frame.backdoor.strip!.threshold });
          }
          offset += faces;
        }
        settled.forEach((done) => done());
      },
    };
  }

  private forgetOld(): void {
    const since = performance.now() - RATE_WINDOW_MS;
    while (this.recent.length > 0 && this.recent[0].at < since) this.recent.shift();
  }
}
