// Garbage collection paced by body bytes. Node hands every chunk of a body it receives over a socket to
// JavaScript as a new ArrayBuffer, outside V8's heap ("external memory"). On a large transfer those chunks
// die at once, but are only freed by a collection, and the few small objects per chunk hardly ever fill the
// young generation, so none runs; and when one does, the freed chunks are subtracted from V8's external
// memory count only later, by a background task. V8 meanwhile sees external memory grow and answers every
// 64 MiB of it with a full mark-compact of the whole heap: measured on a 1 GiB PUT 33 to 100 of them, on a
// 1 GiB GET ~45, each 20-30 ms of the main thread plus background marking, with nothing to free in the heap
// itself. A scavenge every `EVERY_BYTES` (~0.5 ms) that frees the dead chunks at once keeps the count low.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes of body between two scavenges: well under V8's 64 MiB external-memory step. */
const EVERY_BYTES = 32 * 1024 * 1024;

type Gc = (options: { type: 'minor' | 'major' }) => void;

let gc: Gc | undefined;
let since = 0;

/**
 * Turns the pacing on (the server does, at start): reaches V8's gc() without the start-up flag — allowed, then
 * taken from a new context — and has freed ArrayBuffers counted off in the collection itself.
 */
export function paceCollections(): void {
  if (gc) return;
  try {
    setFlagsFromString('--no-concurrent-array-buffer-sweeping');
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  } catch {
    gc = undefined;
  }
}

/** Counts `bytes` of body that passed; runs a scavenge each time `EVERY_BYTES` more did. */
export function bodyBytesSeen(bytes: number): void {
  if (!gc) return;
  since += bytes;
  if (since < EVERY_BYTES) return;
  since = 0;
  gc({ type: 'minor' });
}
