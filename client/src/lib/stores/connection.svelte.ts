import type { PairSummary } from '../../../../shared/protocol.ts';
import { getHealth, listModels } from '../api.ts';
import { ANSWER_TIMEOUT_MS, type LiveSocket } from '../stream.ts';

export type ConnectionStatus = 'connecting' | 'online' | 'lost';

/** The link to the server: whether it is up, the model pairs it has, and the one on show. */
export class ConnectionStore {
  status = $state<ConnectionStatus>('connecting');
  activePair = $state<PairSummary>();
  pairs = $state<PairSummary[]>([]);
  backend = $state<string>();
  /** What the backend runs on (the GPU adapter, or the CPU). */
  device = $state<string>();
  /** Why the last pair switch failed. */
  switchError = $state<string>();
  #socket: LiveSocket;

  constructor(socket: LiveSocket) {
    this.#socket = socket;
    // Socket.IO reconnects by itself, with backoff; these only follow its state.
    socket.on('connect', () => {
      this.status = 'online';
      void this.#loadServerInfo();
    });
    socket.on('disconnect', () => (this.status = 'lost'));
    socket.on('connect_error', () => (this.status = 'lost'));
    socket.on('activePair', (pair) => (this.activePair = pair));
  }

  async selectPair(name: string): Promise<void> {
    this.switchError = undefined;
    try {
      const reply = await this.#socket.timeout(ANSWER_TIMEOUT_MS * 4).emitWithAck('selectPair', name);
      if (!reply.ok) this.switchError = reply.error;
    } catch {
      this.switchError = 'the server did not answer the switch';
    }
  }

  async #loadServerInfo(): Promise<void> {
    try {
      const [models, health] = await Promise.all([listModels(), getHealth()]);
      this.pairs = models.pairs;
      this.backend = health.backend;
      this.device = health.device;
    } catch {
      // The socket's own events report a server that went away.
    }
  }
}
