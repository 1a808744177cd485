import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { LatestWins, MAX_FRAME_BYTES, type ClientToServerEvents, type CommandReply, type FrameReply, type ServerToClientEvents } from '../../shared/protocol.ts';
import { enrollChipSchema, type PhotoReply } from '../../shared/api.ts';
import { addChip } from '../data/enroll.ts';
import type { LiveStrip } from '../defense/liveStrip.ts';
import { describeIssues } from '../errors.ts';
import type { LogDatabase } from '../log/db.ts';
import { LiveSession } from '../log/liveSession.ts';
import type { TrainingJobs } from '../train/jobs.ts';
import type { ActivePair } from '../ml/activePair.ts';
import { answerFrame, supersededReply } from './frames.ts';

export interface LiveServer {
  io: Server<ClientToServerEvents, ServerToClientEvents>;
  /** Disconnects every client, closes the HTTP server, and finishes their sessions in the log. */
  close(): Promise<void>;
}

interface PendingFrame {
  payload: unknown;
  ack: (reply: FrameReply) => void;
}

export interface LiveParts { models: ActivePair; strip: LiveStrip; log: LogDatabase; jobs: TrainingJobs }

/**
 * The live page's Socket.IO endpoint, transport only: frames in, verdicts out (then STRIP and the
 * frame log), pair switching, the presenter's ground truth, the Enroll page's chips and training
 * jobs' progress. Each client has one frame being answered and at most one waiting; a newer frame
 * replaces the waiting one.
 */
export function attachLiveSocket(httpServer: HttpServer, { models, strip, log, jobs }: LiveParts): LiveServer {
  const io: LiveServer['io'] = new Server(httpServer, {
    transports: ['websocket'],
    maxHttpBufferSize: MAX_FRAME_BYTES,
    serveClient: false,
  });
  const closing = new Set<Promise<void>>();

  io.on('connection', (socket) => {
    socket.emit('activePair', models.summary);
    const session = new LiveSession(log, models, {
      status: (status) => socket.emit('session', status),
      strip: (reply) => socket.emit('strip', reply),
    }, () => strip.stats().facesPerSecond);
    const stripLine = strip.client();
    socket.on('disconnect', () => {
      const closed = stripLine.close().then(() => session.finish()).catch((error: unknown) => console.error(`closing a live session failed: ${(error as Error).message}`));
      closing.add(closed);
      void closed.finally(() => closing.delete(closed));
    });

    const frames = new LatestWins<PendingFrame>(
      async ({ payload, ack }) => {
        const answered = await answerFrame(models, payload);
        ack(answered.reply);
        if (!('chips' in answered) || answered.chips.length === 0) return;
        // Labels are assigned now, in frame order; the face is logged once STRIP has its outcome.
        const labels = session.labelFaces(answered);
        void stripLine.submit({ pair: answered.reply.pair, chips: answered.chips, backdoor: answered.cards.backdoor })
          .then((outcome) => session.record(answered, labels, outcome));
      },
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
        ack({ ok: true, pair: await models.switchTo(name) });
      } catch (error) {
        ack({ ok: false, error: (error as Error).message });
      }
    });

    const command = (event: 'setGroundTruth' | 'selectFace' | 'startSession', run: (input: unknown) => CommandReply | Promise<CommandReply>) => {
      socket.on(event, async (input: unknown, ack: unknown) => {
        let reply: CommandReply;
        try {
          reply = await run(input);
        } catch (error) {
          reply = { ok: false, error: (error as Error).message };
        }
        if (typeof ack === 'function') ack(reply);
      });
    };
    command('setGroundTruth', (input) => session.setGroundTruth(input));
    command('selectFace', (input) => session.selectFace(input));
    command('startSession', (input) => session.restart(input, () => stripLine.settle()));

    socket.on('enrollChip', async (input: unknown, ack: unknown) => {
      if (typeof ack !== 'function') return;
      const parsed = enrollChipSchema.safeParse(input);
      if (!parsed.success) return ack({ kept: false, reason: describeIssues(parsed.error) } satisfies PhotoReply);
      try {
        ack(await addChip(parsed.data));
      } catch (error) {
        ack({ kept: false, reason: (error as Error).message } satisfies PhotoReply);
      }
    });
  });
  // This server's clients only: in a cluster every server tells its own once it has switched too.
  models.onSwitch((pair) => io.local.emit('activePair', pair));
  jobs.onChange((status) => io.emit('job', status));

  return {
    io,
    async close() {
      // io.close() also closes the HTTP server it is attached to.
      await io.close();
      await Promise.all(closing);
    },
  };
}
