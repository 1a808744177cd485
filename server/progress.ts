import cliProgress from 'cli-progress';

/**
 * A terminal progress bar per stage, on stderr so `--json` output on stdout stays clean; silent
 * when stderr is not a terminal (CI logs, pipes).
 */
export function progressReporter(): { update: (stage: string, done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(stage, done, total) {
      if (stage !== current) {
        stop();
        current = stage;
        bar = new cliProgress.SingleBar(
          { format: `${stage.padEnd(16)} [{bar}] {value}/{total} {percentage}% eta {eta}s`, stream: process.stderr, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
      } else bar?.update(done);
    },
    stop,
  };
}
