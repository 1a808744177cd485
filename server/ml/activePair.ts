import { readCard, type ModelCard } from './bundle.ts';
import { classifyChips, disposePair, existingPair, listPairs, loadPair, type LoadedPair, type PairVerdict } from './pair.ts';
import type { PairSummary } from '../../shared/protocol.ts';

export interface PairCards { clean: ModelCard; backdoor: ModelCard }

export interface Classified {
  pair: string;
  /** The cards of the models that classified the chips (a switch may follow at any moment). */
  cards: PairCards;
  verdicts: PairVerdict[];
  trunkMs: number;
  tailsMs: number;
}

/**
 * The model pair every client is shown, switchable by the presenter. Model work runs one job at a
 * time: the tensor backend has one set of cores to give, and a switch must not dispose a pair's
 * weights while a frame is still being classified with them.
 */
export class ActivePair {
  #queue: Promise<unknown> = Promise.resolve();
  readonly #switchListeners = new Set<(pair: PairSummary) => void>();

  private constructor(private pair: LoadedPair) {}

  static async load(name: string): Promise<ActivePair> {
    return new ActivePair(await loadPair(await existingPair(name)));
  }

  get summary(): PairSummary {
    return this.pair.summary;
  }

  get cards(): PairCards {
    return { clean: this.pair.clean.card, backdoor: this.pair.backdoor.card };
  }

  classify(chips: Buffer[]): Promise<Classified> {
    return this.#exclusive(async () => ({ pair: this.pair.name, cards: this.cards, ...(await classifyChips(this.pair, chips)) }));
  }

  /** Loads `name` and makes it the active pair; the previous pair's weights are freed. */
  switchTo(name: string): Promise<PairSummary> {
    return this.#exclusive(async () => {
      if (name === this.pair.name) return this.pair.summary;
      const next = await loadPair(await existingPair(name));
      disposePair(this.pair);
      this.pair = next;
      for (const listener of this.#switchListeners) listener(next.summary);
      return next.summary;
    });
  }

  /** Called after every switch, whoever asked for it (the page's picker, the HTTP API). */
  onSwitch(listener: (pair: PairSummary) => void): void {
    this.#switchListeners.add(listener);
  }

  dispose(): Promise<void> {
    return this.#exclusive(async () => disposePair(this.pair));
  }

  #exclusive<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(job);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}


/** Summaries of every pair under models/, read from the backdoored models' cards. */
export async function pairSummaries(): Promise<PairSummary[]> {
  return Promise.all((await listPairs()).map(async (name) => {
    const { labels, trigger, target, injectionRate, tune } = await readCard(`${name}-backdoor`);
    return { name, labels, trigger, target, injectionRate, tune };
  }));
}
