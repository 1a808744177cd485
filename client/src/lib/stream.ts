import { io, type Socket } from 'socket.io-client';
import { LatestWins, type ClientToServerEvents, type FramePayload, type FrameReply, type ServerToClientEvents } from '../../../shared/protocol.ts';

export type LiveSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A frame whose answer takes longer than this is given up (the server is stuck or gone). */
export const ANSWER_TIMEOUT_MS = 5000;

export function connectLiveSocket(): LiveSocket {
  return io({ transports: ['websocket'] });
}

/** What the frame stream needs from a connection: a socket, or a fake in tests. */
export interface FrameChannel {
  readonly connected: boolean;
  request(frame: FramePayload): Promise<FrameReply>;
}

export function socketChannel(socket: LiveSocket): FrameChannel {
  return {
    get connected() {
      return socket.connected;
    },
    request: (frame) => socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck('frame', frame),
  };
}

/**
 * Frames to the server with back-pressure: at most one frame awaits its answer; frames produced
 * meanwhile replace each other and only the newest is sent next (latest frame wins). While the
 * connection is down frames are dropped rather than buffered, so a reconnect does not replay
 * stale video.
 */
export class FrameStream {
  #frames: LatestWins<FramePayload>;

  constructor(channel: FrameChannel, onReply: (reply: FrameReply) => void) {
    this.#frames = new LatestWins(async (frame) => {
      if (!channel.connected) return;
      try {
        onReply(await channel.request(frame));
      } catch {
        onReply({ ok: false, frameId: frame.frameId, error: `no answer from the server within ${ANSWER_TIMEOUT_MS / 1000} s` });
      }
    });
  }

  send(frame: FramePayload): void {
    this.#frames.offer(frame);
  }
}
