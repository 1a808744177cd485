// Child process of crash.test.ts: logs one face per event-loop turn, committing every BATCH rows,
// and reports each commit on stdout until the test kills it.
import { openLog, startSession } from '../../server/log/db.ts';
import { FrameLogWriter } from '../../server/log/writer.ts';
import { face } from './helpers.ts';

const [file, batch] = process.argv.slice(2);
const batchRows = Number(batch);
const db = openLog(file);
const sessionId = startSession(db, { pair: 'p1', cleanModel: 'c', backdoorModel: 'b' });
const writer = new FrameLogWriter(db, sessionId, { batchRows, batchMs: 60_000 });
process.stdout.write(`session ${sessionId}\n`);

let frameId = 0;
function logNextFace(): void {
  writer.add(face({ frameId: ++frameId }));
  if (frameId % batchRows === 0) process.stdout.write(`committed ${frameId}\n`);
  setImmediate(logNextFace);
}
logNextFace();
