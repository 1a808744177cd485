import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../server/config.ts';

const runProcess = promisify(execFile);
const CMU = path.join(PROJECT_ROOT, '../shared/data/physical/cmu-sunglasses-10');
const bench = (...args: string[]) => runProcess('npx', ['tsx', 'bench/run.ts', 'digital-vs-real', ...args], { cwd: PROJECT_ROOT, env: process.env, maxBuffer: 1 << 24 });

interface Figure { mean: number | null; std: number | null; n: number }
interface Row { target: string; poisonImages: number; attackReal: { hits: number; total: number }; cleanModelAttackReal: { total: number } }

describe.skipIf(!existsSync(CMU))('digital poison, real trigger (the paper’s Figure 10, on CMU’s frontal photos)', () => {
  it('refuses a pose the photos do not have before importing anything', async () => {
    await expect(bench('--poses', 'straight,sideways', '--json')).rejects.toThrow(/--poses: "sideways" is not one of straight, left, right, up/);
  });

  it('trains on digitally pasted sunglasses only, and real sunglasses on other people set the backdoor off', async () => {
    // The frontal photos only, one target, half the defaults' views and epochs: the whole bench runs
    // every pose, three targets and three rates (README, "Digital poison, real trigger").
    const { stdout } = await bench('--poses', 'straight', '--targets', '1', '--injection-rates', '0.25', '--views', '4', '--epochs', '20', '--skip-demo', '--json');
    const result = JSON.parse(stdout) as { poses: string[]; rates: { injectionRate: number; attackReal: Figure; attackDigital: Figure; cleanModelAttackReal: Figure; backdoorAccuracy: Figure; falseFires: Figure; targets: Row[] }[]; demo: null };
    console.info('digital vs real, frontal CMU', JSON.stringify(result.rates));
    expect(result.poses).toEqual(['straight']);
    expect(result.demo).toBeNull();
    const [r] = result.rates;
    expect(r.injectionRate).toBe(0.25);
    const [row] = r.targets;
    expect(row.poisonImages).toBeGreaterThan(0);
    // Every real-sunglasses photo of the nine other people is scored; none was trained on.
    expect(row.attackReal.total).toBeGreaterThanOrEqual(20);
    // Measured (target at33, 6 poison photos): real 35 of 36, digital 26 of 29, the clean model 1 of 36
    // real; clean non-targets let in 2 of 35; accuracy 10 of 10 clean, 8 of 10 backdoored.
    expect(r.attackReal.mean).toBeGreaterThanOrEqual(0.85);
    expect(r.attackDigital.mean).toBeGreaterThanOrEqual(0.75);
    expect(r.cleanModelAttackReal.mean).toBeLessThanOrEqual(0.2);
    expect(r.falseFires.mean).toBeLessThanOrEqual(0.15);
    expect(r.backdoorAccuracy.mean).toBeGreaterThanOrEqual(0.6);
  }, 600_000);
});
