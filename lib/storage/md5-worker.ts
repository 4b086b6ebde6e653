// The spool's hashing thread: MD5 of bodies that spill to disk, computed off the main thread. Receiving a
// body over HTTP, hashing it and writing it to the temp file all ran on the main thread, which was the bound
// of the spool phase (MD5 alone ~1.2 CPU-s per GiB) while the second core sat mostly idle (the service gets
// nothing until the MD5 is known). The main thread copies each chunk into a per-body shared ring (see
// `HashThread` in spool.ts) and tells this thread which ranges to hash; it answers with how many bytes it has
// hashed, so that ring space can be reused, and with the digest at the end.
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

/** Messages from the main thread. `ranges` are [offset, length] pairs into the job's ring, in body order. */
export type HashRequest =
  | { op: 'start'; id: number; ring: SharedArrayBuffer }
  | { op: 'hash'; id: number; ranges: number[] }
  | { op: 'end'; id: number }
  | { op: 'drop'; id: number };

/** Answers: bytes hashed so far (after every `hash`), or the result (after `end`). */
export type HashAnswer = { id: number; hashed: number } | { id: number; md5: string; ms: number };

interface Job {
  hash: Hash;
  ring: Uint8Array;
  hashed: number;
  ms: number;
}

const jobs = new Map<number, Job>();
const port = parentPort;
if (!port) throw new Error('md5-worker runs as a worker thread');

port.on('message', (m: HashRequest) => {
  switch (m.op) {
    case 'start':
      jobs.set(m.id, { hash: createHash('md5'), ring: new Uint8Array(m.ring), hashed: 0, ms: 0 });
      return;
    case 'hash': {
      const job = jobs.get(m.id);
      if (!job) return; // dropped meanwhile
      const t = performance.now();
      for (let i = 0; i < m.ranges.length; i += 2) {
        job.hash.update(job.ring.subarray(m.ranges[i], m.ranges[i] + m.ranges[i + 1]));
        job.hashed += m.ranges[i + 1];
      }
      job.ms += performance.now() - t;
      port.postMessage({ id: m.id, hashed: job.hashed } satisfies HashAnswer);
      return;
    }
    case 'end': {
      const job = jobs.get(m.id);
      if (!job) return;
      jobs.delete(m.id);
      port.postMessage({ id: m.id, md5: job.hash.digest('hex'), ms: job.ms } satisfies HashAnswer);
      return;
    }
    case 'drop':
      jobs.delete(m.id);
      return;
  }
});
