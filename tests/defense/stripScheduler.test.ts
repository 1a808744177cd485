import { describe, expect, it } from 'vitest';
import { StripScheduler, type ScheduledOutcome } from '../../server/defense/stripScheduler.ts';

/** A job whose runs finish when the test says so. */
function controlledJob() {
  const runs: { frame: number; finish: (value: string) => void; fail: (error: Error) => void }[] = [];
  const job = (frame: number) => new Promise<string>((resolve, reject) => runs.push({ frame, finish: resolve, fail: reject }));
  return { runs, job };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('STRIP scheduler', () => {
  it('runs one job at a time and, when it finishes, takes the newest frame, skipping the ones in between', async () => {
    const { runs, job } = controlledJob();
    const scheduler = new StripScheduler(job);
    const outcomes = new Map<number, ScheduledOutcome<string>>();
    const submit = (frame: number) => scheduler.submit(frame).then((o) => outcomes.set(frame, o));

    const done = [1, 2, 3, 4].map(submit);
    await settle();
    expect(runs.map((r) => r.frame)).toEqual([1]);
    expect(outcomes.get(2)).toEqual({ status: 'skipped' });
    expect(outcomes.get(3)).toEqual({ status: 'skipped' });
    expect(outcomes.has(4)).toBe(false);

    runs[0].finish('strip of 1');
    await settle();
    expect(outcomes.get(1)).toEqual({ status: 'ran', result: 'strip of 1' });
    expect(runs.map((r) => r.frame)).toEqual([1, 4]);

    done.push(submit(5));
    runs[1].finish('strip of 4');
    await settle();
    expect(outcomes.get(4)).toEqual({ status: 'ran', result: 'strip of 4' });
    expect(runs.map((r) => r.frame)).toEqual([1, 4, 5]);
    runs[2].finish('strip of 5');
    await Promise.all(done);
    await scheduler.idle();
    expect([...outcomes.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('starts at once when idle, so a slow stream gets STRIP on every frame', async () => {
    const scheduler = new StripScheduler(async (frame: number) => frame * 10);
    for (let frame = 0; frame < 5; frame++) expect(await scheduler.submit(frame)).toEqual({ status: 'ran', result: frame * 10 });
  });

  it('hands a failed job to its own frame and carries on with the next', async () => {
    const { runs, job } = controlledJob();
    const scheduler = new StripScheduler(job);
    const first = scheduler.submit(1);
    const second = scheduler.submit(2);
    runs[0].fail(new Error('worker crashed'));
    await expect(first).rejects.toThrow('worker crashed');
    await settle();
    runs[1].finish('fine');
    await expect(second).resolves.toEqual({ status: 'ran', result: 'fine' });
  });

  it('idle() waits for the running job and the frame waiting behind it', async () => {
    const { runs, job } = controlledJob();
    const scheduler = new StripScheduler(job);
    void scheduler.submit(1);
    void scheduler.submit(2);
    let idle = false;
    const waiting = scheduler.idle().then(() => { idle = true; });
    runs[0].finish('a');
    await settle();
    expect(idle).toBe(false);
    runs[1].finish('b');
    await waiting;
    expect(idle).toBe(true);
    await scheduler.idle();
  });
});
