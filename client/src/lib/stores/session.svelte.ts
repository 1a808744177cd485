import type { Box, CommandReply, GroundTruth, SessionStatus } from '../../../../shared/protocol.ts';
import { ANSWER_TIMEOUT_MS, type LiveSocket } from '../stream.ts';

/** The connection's logging session: its live counters, and the presenter's ground truth sent to the server. */
export class SessionStore {
  status = $state<SessionStatus>();
  labels = $state<GroundTruth>({ identity: null, worn: null });
  /** Why the last label or selection change was refused. */
  error = $state<string>();
  #socket: LiveSocket;

  constructor(socket: LiveSocket) {
    this.#socket = socket;
    socket.on('session', (status) => (this.status = status));
    // A reconnect is a new session on the server: it starts unlabelled, so the labels are sent again.
    socket.on('connect', () => {
      if (this.labels.identity !== null || this.labels.worn !== null) void this.setLabels(this.labels);
    });
  }

  setLabels(labels: GroundTruth): Promise<void> {
    this.labels = labels;
    return this.#command(() => this.#socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck('setGroundTruth', labels));
  }

  /** The face to label, by its box in the latest frame; null: the largest face. */
  selectFace(box: Box | null): Promise<void> {
    return this.#command(() => this.#socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck('selectFace', box));
  }

  async #command(send: () => Promise<CommandReply>): Promise<void> {
    this.error = undefined;
    try {
      const reply = await send();
      if (!reply.ok) this.error = reply.error;
    } catch {
      this.error = 'the server did not answer';
    }
  }
}
