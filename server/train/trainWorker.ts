import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../ml/backend.ts';
import { trainPair, trainResult } from './trainPair.ts';
import { runFpStudy } from '../experiments/fpStudy.ts';
import { fpStudyOptions, trainPairOptions, type TrainWorkerData, type TrainWorkerMessage } from './jobs.ts';

const port = parentPort!;
const job = workerData as TrainWorkerData;
const send = (message: TrainWorkerMessage) => port.postMessage(message);

// On Linux a thread's nice value is its own: this lowers the training thread (and the threads it
// starts) below the live loop, so frames are classified first when both want the cores.
try {
  setPriority(19);
} catch {
  // Not permitted here: training then competes with live classification as an equal.
}

try {
  await initBackend();
  const onProgress = (phase: string, done: number, total: number) => send({ type: 'progress', phase, done, total });
  if (job.kind === 'fp-study') {
    send({ type: 'done', study: await runFpStudy({ ...fpStudyOptions(job.request), onProgress }) });
  } else {
    const result = await trainPair({ ...trainPairOptions(job.request), onProgress, onEpoch: (role, epoch, loss) => send({ type: 'epoch', role, epoch, loss }) });
    send({ type: 'done', result: trainResult(result) });
  }
} catch (error) {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}
