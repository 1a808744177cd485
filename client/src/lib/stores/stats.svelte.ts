import type { FrameReply, StageTimings } from '../../../../shared/protocol.ts';
import { RateMeter } from '../rate.ts';

/** Weight of the newest latency in the smoothed figure: steady enough to read on a projector. */
const LATENCY_SMOOTHING = 0.2;

/** Live figures for the status bar: frames analysed per second, verdicts per second, latency. */
export class StatsStore {
  framesPerSecond = $state(0);
  verdictsPerSecond = $state(0);
  /** From capturing a frame to showing its verdict, smoothed. */
  latencyMs = $state<number>();
  timings = $state.raw<StageTimings>();
  #frames = new RateMeter();
  #verdicts = new RateMeter();

  frameAnalysed(nowMs: number): void {
    this.#frames.record(nowMs);
  }

  verdictArrived(reply: Extract<FrameReply, { ok: true }>, nowMs: number): void {
    this.#verdicts.record(nowMs);
    const latency = nowMs - reply.capturedAt;
    this.latencyMs = this.latencyMs === undefined ? latency : this.latencyMs + LATENCY_SMOOTHING * (latency - this.latencyMs);
    this.timings = reply.timings;
  }

  /** Recomputes the rates; called on a timer so they fall to zero when frames stop. */
  refresh(nowMs: number): void {
    this.framesPerSecond = this.#frames.perSecond(nowMs);
    this.verdictsPerSecond = this.#verdicts.perSecond(nowMs);
  }
}
