import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { LatestWins, MAX_FRAME_BYTES, type ClientToServerEvents, type FrameReply, type ServerToClientEvents } from '../../shared/protocol.ts';
import type { ActivePair } from './activePair.ts';
import { answerFrame, supersededReply } from './frames.ts';

export type LiveServer = Server<ClientToServerEvents, ServerToClientEvents>;

interface PendingFrame {
  payload: unknown;
  ack: (reply: FrameReply) => void;
}

/**
 * The live page's Socket.IO endpoint: frames in, verdicts out, and pair switching. Each client has
 * one frame being answered and at most one waiting; a newer frame replaces the waiting one.
 */
export function attachLiveSocket(httpServer: HttpServer, models: ActivePair): LiveServer {
  const io: LiveServer = new Server(httpServer, {
    transports: ['websocket'],
    maxHttpBufferSize: MAX_FRAME_BYTES,
    serveClient: false,
  });

  io.on('connection', (socket) => {
    socket.emit('activePair', models.summary);

    const frames = new LatestWins<PendingFrame>(
      async ({ payload, ack }) => ack(await answerFrame(models, payload)),
      ({ payload, ack }) => ack(supersededReply(payload)),
    );
    // Handlers check what arrives: the typed events describe honest clients, not every client.
    socket.on('frame', (payload: unknown, ack: unknown) => {
      if (typeof ack === 'function') frames.offer({ payload, ack: ack as PendingFrame['ack'] });
    });

    socket.on('selectPair', async (name: unknown, ack: unknown) => {
      if (typeof ack !== 'function') return;
      if (typeof name !== 'string') return ack({ ok: false, error: 'selectPair takes the name of a model pair' });
      try {
        const pair = await models.switchTo(name);
        io.emit('activePair', pair);
        ack({ ok: true, pair });
      } catch (error) {
        ack({ ok: false, error: (error as Error).message });
      }
    });
  });
  return io;
}
