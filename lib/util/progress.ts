// Progress of long command-line work (`jottadav warm`, …): a bar redrawn in place on a terminal (cli-progress),
// plain lines otherwise — a log file or a CI console gets one readable line every `every` steps and a final
// one, never carriage returns or escape codes.
import cliProgress from 'cli-progress';

export interface Progress {
  /** `done` of `total` so far (the total may grow, e.g. folders found while walking a tree); `detail` is free text. */
  update(done: number, total: number, detail?: string): void;
  /** Ends the bar (or prints the last plain line), then the summary if one is given. */
  stop(summary?: string): void;
}

export interface ProgressOptions {
  /** Where to draw; default process.stderr, so that stdout stays clean for results. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Plain mode: a line every this many steps. Default 100. */
  every?: number;
  /** Force the bar (true) or plain lines (false); default: a bar exactly when the stream is a terminal. */
  tty?: boolean;
}

export function startProgress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? stream.isTTY === true;
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {detail}`,
        stream: stream as NodeJS.WritableStream,
        hideCursor: true,
        clearOnComplete: false,
        // cli-progress otherwise stays silent when it thinks the stream is no terminal
        noTTYOutput: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, detail = '') {
        if (!started) {
          bar.start(Math.max(total, 1), done, { detail });
          started = true;
        }
        bar.setTotal(Math.max(total, 1));
        bar.update(done, { detail });
      },
      stop(summary) {
        if (started) bar.stop();
        if (summary) stream.write(`${summary}\n`);
      },
    };
  }
  const every = opts.every ?? 100;
  let lastPrinted = -1;
  let last: { done: number; total: number; detail: string } | undefined;
  const line = (s: { done: number; total: number; detail: string }) => stream.write(`${label}: ${s.done}/${s.total}${s.detail ? ` ${s.detail}` : ''}\n`);
  return {
    update(done, total, detail = '') {
      last = { done, total, detail };
      if (lastPrinted < 0 || done - lastPrinted >= every) {
        line(last);
        lastPrinted = done;
      }
    },
    stop(summary) {
      if (last && last.done !== lastPrinted) line(last);
      if (summary) stream.write(`${summary}\n`);
    },
  };
}
