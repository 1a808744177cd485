import type { InferencePool } from './inferencePool.ts';
import { existingPair, listPairs, pairSummary, pairVerdicts, readPairCards, type PairCards, type PairVerdict } from './pair.ts';
import { readCard } from './bundle.ts';
import type { PairSummary } from '../../shared/protocol.ts';

export type { PairCards } from './pair.ts';

export interface Classified {
  pair: string;
  /** The cards of the models that classified the chips (a switch may follow at any moment). */
  cards: PairCards;
  verdicts: PairVerdict[];
  trunkMs: number;
  tailsMs: number;
  /** Chips in the trunk call the frame shared with other clients' frames. */
  batch: number;
}

interface PairInfo { summary: PairSummary; cards: PairCards }

async function pairInfo(name: string): Promise<PairInfo> {
  const cards = await readPairCards(await existingPair(name));
  return { cards, summary: pairSummary(name, cards.backdoor) };
}

/** Where a switch was asked: on this server (the page's picker, the HTTP API), or on another server of the cluster, which announced it. */
export type SwitchOrigin = 'here' | 'cluster';

/**
 * The model pair every client is shown, switchable by the presenter. Its models run on the
 * inference pool; a switch loads the next pair on every worker before frames go to it, and frees
 * the previous one after the frames already sent to it.
 */
export class ActivePair {
  #switches: Promise<unknown> = Promise.resolve();
  readonly #switchListeners = new Set<(pair: PairSummary, origin: SwitchOrigin) => void>();
  readonly #switchChecks = new Set<(name: string) => Promise<void>>();
  /** The live pair and, during a switch, the previous one, whose frames may still be answered. */
  readonly #loaded = new Map<string, PairInfo>();

  private constructor(private readonly pool: InferencePool, private pair: PairInfo) {
    this.#loaded.set(pair.summary.name, pair);
  }

  static async load(pool: InferencePool, name: string): Promise<ActivePair> {
    const info = await pairInfo(name);
    await pool.load(name);
    pool.use(name);
    return new ActivePair(pool, info);
  }

  get summary(): PairSummary {
    return this.pair.summary;
  }

  get cards(): PairCards {
    return this.pair.cards;
  }

  async classify(chips: readonly Uint8Array[]): Promise<Classified> {
    const { pair, batch, trunkMs, tailsMs, ...probabilities } = await this.pool.classify(chips);
    const info = this.#loaded.get(pair);
    if (!info) throw new Error(`pair "${pair}" was unloaded while a frame was classified with it`);
    return { pair, cards: info.cards, verdicts: pairVerdicts(info.cards, probabilities), trunkMs, tailsMs, batch };
  }

  /**
   * Loads `name` and makes it the active pair; the previous pair's weights are freed. A switch asked
   * here must first pass every `beforeSwitch` check (one that throws refuses it); a switch another
   * server of the cluster announced has passed them there.
   */
  async switchTo(name: string, origin: SwitchOrigin = 'here'): Promise<PairSummary> {
    let next: PairInfo | undefined;
    if (origin === 'here' && name !== this.pair.summary.name) {
      next = await pairInfo(name);
      for (const check of this.#switchChecks) await check(name);
    }
    return this.#exclusive(async () => {
      if (name === this.pair.summary.name) return this.pair.summary;
      next ??= await pairInfo(name);
      await this.pool.load(name);
      const previous = this.pair.summary.name;
      this.#loaded.set(name, next);
      this.pair = next;
      this.pool.use(name);
      for (const listener of this.#switchListeners) listener(next.summary, origin);
      await this.pool.unload(previous);
      this.#loaded.delete(previous);
      return next.summary;
    });
  }

  /** Called after every switch, whoever asked for it (the page's picker, the HTTP API, another server), with where it was asked. */
  onSwitch(listener: (pair: PairSummary, origin: SwitchOrigin) => void): void {
    this.#switchListeners.add(listener);
  }

  /** Runs `check` before every switch asked here, before anything is loaded; a check that throws refuses the switch with its error. */
  beforeSwitch(check: (name: string) => Promise<void>): void {
    this.#switchChecks.add(check);
  }

  #exclusive<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#switches.then(job);
    this.#switches = result.catch(() => undefined);
    return result;
  }
}

/** Summaries of every pair under models/, read from the backdoored models' cards. */
export async function pairSummaries(): Promise<PairSummary[]> {
  return Promise.all((await listPairs()).map(async (name) => pairSummary(name, await readCard(`${name}-backdoor`))));
}
