/** Events per second over the last second (frames detected, verdicts received). */
export class RateMeter {
  #times: number[] = [];

  constructor(private readonly windowMs = 1000) {}

  record(nowMs: number): void {
    this.#times.push(nowMs);
    this.#forget(nowMs);
  }

  perSecond(nowMs: number): number {
    this.#forget(nowMs);
    return (this.#times.length * 1000) / this.windowMs;
  }

  #forget(nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    let stale = 0;
    while (stale < this.#times.length && this.#times[stale] <= cutoff) stale++;
    this.#times.splice(0, stale);
  }
}
