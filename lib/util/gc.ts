// V8's collector from JavaScript, and collections paced by body bytes.
//
// Pacing: Node hands every chunk of a body it receives over a socket to JavaScript as a new ArrayBuffer, outside
// V8's heap ("external memory"). On a large transfer those chunks die at once, but are only freed by a
// collection, and the few small objects per chunk hardly ever fill the young generation, so none runs; and when
// one does, the freed chunks are subtracted from V8's external memory count only later, by a background task. V8
// meanwhile sees external memory grow and answers every 64 MiB of it with a full mark-compact of the whole heap:
// measured on a 1 GiB PUT 33 to 100 of them, on a 1 GiB GET ~45, each 20-30 ms of the main thread plus
// background marking, with nothing to free in the heap itself. A scavenge every `EVERY_BYTES` (~0.5 ms) that
// frees the dead chunks at once keeps the count low.
import v8 from 'node:v8';
import vm from 'node:vm';

export type GcFunction = (options?: { type?: 'minor' | 'major' }) => void;

/**
 * V8's `gc()` without starting Node with `--expose-gc`: the flag set at run time installs the function in contexts
 * created after it, so a fresh `vm` context hands it over. The flag is switched off again at once, so no other
 * context gets a global `gc`. Null when the runtime refuses.
 */
export function obtainGc(): GcFunction | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as GcFunction;
  try {
    v8.setFlagsFromString('--expose-gc');
    const fn = vm.runInNewContext('typeof gc === "function" ? gc : null') as unknown;
    return typeof fn === 'function' ? (fn as GcFunction) : null;
  } catch {
    return null;
  } finally {
    try {
      v8.setFlagsFromString('--no-expose-gc');
    } catch {
      // nothing to undo
    }
  }
}

/** Bytes of body between two scavenges: well under V8's 64 MiB external-memory step. */
const EVERY_BYTES = 32 * 1024 * 1024;

let paced: GcFunction | null = null;
let since = 0;

/**
 * Turns the pacing on (the server and the emulator do, at start), and has freed ArrayBuffers counted off in the
 * collection itself rather than by a background task.
 */
export function paceCollections(): void {
  if (paced) return;
  try {
    v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  } catch {
    // an older or newer V8 without the flag: the scavenges still help
  }
  paced = obtainGc();
}

/** Counts `bytes` of body that passed; runs a scavenge each time `EVERY_BYTES` more did. */
export function bodyBytesSeen(bytes: number): void {
  if (!paced) return;
  since += bytes;
  if (since < EVERY_BYTES) return;
  since = 0;
  paced({ type: 'minor' });
}
