import cliProgress from 'cli-progress';

/**
 * A progress bar for anything that takes more than a few seconds. On a non-TTY (CI, pipes) it
 * prints a line every `logEvery` steps instead, so logs stay readable.
 */
export interface Progress {
  tick(n?: number, label?: string): void;
  stop(): void;
}

export function progress(
  title: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${title} [{bar}] {percentage}% {value}/{total} {label}`, stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { label: '' });
    return {
      tick: (n = 1, label = '') => bar.increment(n, { label }),
      stop: () => bar.stop(),
    };
  }
  let done = 0;
  return {
    tick: (n = 1, label = '') => {
      done += n;
      stream.write(`${title}: ${done}/${total}${label ? ` ${label}` : ''}\n`);
    },
    stop: () => undefined,
  };
}
