import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ConflictError } from '../errors.ts';
import { exists, writeFileAtomically } from '../files.ts';

/** What an experiment writes into its output folder: results.json and its chart. */
export interface ExperimentFiles { results: string; chart: string }

export function experimentFiles(dir: string, chart: string): ExperimentFiles {
  return { results: path.join(dir, 'results.json'), chart: path.join(dir, chart) };
}

/** Refuses, unless `replace`, an output folder that already holds the experiment's files. */
export async function checkExperimentOutput(files: ExperimentFiles, replace: boolean): Promise<void> {
  if (replace) return;
  for (const file of Object.values(files)) {
    if (await exists(file)) throw new ConflictError(`${file} exists: choose another folder or replace it (--replace)`);
  }
}

/**
 * Writes the results as JSON and the chart, each file atomically; the chart is rendered by the
 * caller first, so a chart that fails to render leaves the folder as it was.
 */
export async function writeExperimentOutput(files: ExperimentFiles, result: unknown, svg: string, replace: boolean): Promise<string[]> {
  await checkExperimentOutput(files, replace);
  await mkdir(path.dirname(files.results), { recursive: true });
  await writeFileAtomically(files.results, `${JSON.stringify(result, null, 2)}\n`);
  await writeFileAtomically(files.chart, svg);
  return [files.results, files.chart];
}
