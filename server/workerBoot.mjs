// Worker threads do not inherit tsx's loader: this plain-JS entry registers it, then loads the
// TypeScript worker named in workerData.entry.
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.entry, import.meta.url);
