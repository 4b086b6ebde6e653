// `--bandwidth`: caps body bytes per second, per request, in both directions (request bodies as they are read,
// answers as they are written), so clients can be tested on a slow line.
import { setTimeout as sleep } from 'node:timers/promises';

/** Yields the chunks of `source` no faster than `bytesPerSecond` (≤ 0: unthrottled). */
export async function* throttle(source: AsyncIterable<Buffer> | Iterable<Buffer>, bytesPerSecond: number): AsyncGenerator<Buffer> {
  if (bytesPerSecond <= 0) {
    yield* source;
    return;
  }
  // Slices of ~1/20 s keep the rate smooth instead of bursting a whole 64 KiB chunk at once.
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
  const started = Date.now();
  let sent = 0;
  for await (const chunk of source) {
    for (let off = 0; off < chunk.length; off += slice) {
      const part = chunk.subarray(off, Math.min(chunk.length, off + slice));
      const due = started + (sent * 1000) / bytesPerSecond;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      sent += part.length;
      yield part;
    }
  }
}
