import type { PairCards } from '../../../../shared/api.ts';
import type { PairSummary } from '../../../../shared/protocol.ts';
import * as api from '../api.ts';
import type { LiveSocket } from '../stream.ts';

/** The model pairs on the server with their cards, and which one is live. */
export class ModelsStore {
  pairs = $state.raw<PairSummary[]>([]);
  active = $state<string>();
  /** Each pair's two cards, by pair name; missing while loading or when a card cannot be read. */
  cards = $state.raw<Record<string, PairCards>>({});
  /** What the last upload added. */
  uploaded = $state.raw<PairSummary>();
  /** Why the last request failed. */
  error = $state<string>();
  #pairsChanged: (pairs: PairSummary[]) => void;

  /** `pairsChanged` hears of each new list of pairs (trained, uploaded, deleted). */
  constructor(socket: LiveSocket, pairsChanged: (pairs: PairSummary[]) => void = () => {}) {
    this.#pairsChanged = pairsChanged;
    // The server tells every page when any of them makes another pair live.
    socket.on('activePair', (pair) => (this.active = pair.name));
  }

  async load(): Promise<void> {
    this.error = undefined;
    await this.#reload();
  }

  /** Makes the pair the one the live page runs. */
  async activate(pair: string): Promise<void> {
    const summary = await this.#attempt(() => api.activatePair(pair));
    if (summary) this.active = summary.name;
  }

  async remove(pair: string): Promise<void> {
    if (await this.#attempt(() => api.deletePair(pair))) await this.#reload();
  }

  async upload(zip: File): Promise<void> {
    this.uploaded = undefined;
    this.uploaded = await this.#attempt(() => api.uploadPair(zip));
    if (this.uploaded) await this.#reload();
  }

  async #reload(): Promise<void> {
    const reply = await this.#attemptQuietly(api.listModels);
    if (!reply) return;
    this.pairs = reply.pairs;
    this.active = reply.active;
    this.#pairsChanged(reply.pairs);
    const cards = await Promise.all(reply.pairs.map((pair) => api.getPairCards(pair.name).then((pairCards) => [pair.name, pairCards] as const, () => undefined)));
    this.cards = Object.fromEntries(cards.filter((entry) => entry !== undefined));
  }

  /** Clears the last error first: for the presenter's own actions. */
  #attempt<T>(request: () => Promise<T>): Promise<T | undefined> {
    this.error = undefined;
    return this.#attemptQuietly(request);
  }

  async #attemptQuietly<T>(request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await request();
    } catch (error) {
      this.error = (error as Error).message;
      return undefined;
    }
  }
}
