// The metadata journal of a `--data` emulator: one JSON line per change (`{"p":[node…],"d":[id…]}`), appended and
// fsynced before the answer goes out, replayed at start (a torn last line — a crash mid-write — is dropped),
// then compacted into a snapshot through temp file + fsync + rename, so `kill -9` at any point loses at most
// the change whose answer was never sent.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Node, TreeJournal } from './tree.js';

interface JournalRecord {
  p?: Node[];
  d?: string[];
}

const FILE = 'journal.jsonl';
const SNAPSHOT_BATCH = 500;

export class FileJournal implements TreeJournal {
  private fd: number | undefined;

  private constructor(private readonly dir: string) {}

  /** Replays the journal in `dir` and compacts it; returns the journal (open for appends) and the node records. */
  static open(dir: string, log: (line: string) => void): { journal: FileJournal; nodes: Map<string, Node> } {
    const j = new FileJournal(dir);
    const nodes = j.replay(log);
    j.compact(nodes.values());
    return { journal: j, nodes };
  }

  private get path(): string {
    return join(this.dir, FILE);
  }

  private replay(log: (line: string) => void): Map<string, Node> {
    const nodes = new Map<string, Node>();
    if (!existsSync(this.path)) return nodes;
    const lines = readFileSync(this.path, 'utf8').split('\n');
    while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let rec: JournalRecord;
      try {
        rec = JSON.parse(line) as JournalRecord;
      } catch {
        if (i === lines.length - 1) {
          log(`journal: dropped a torn last record (${line.length} bytes) — a write was cut short`);
          return;
        }
        throw new Error(`${this.path} is damaged at line ${i + 1}; it is not the last line, so this is not a cut-short write`);
      }
      for (const n of rec.p ?? []) nodes.set(n.id, n);
      for (const id of rec.d ?? []) nodes.delete(id);
    });
    return nodes;
  }

  private compact(nodes: Iterable<Node>): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let batch: Node[] = [];
      const flush = () => {
        if (batch.length) writeSync(fd, JSON.stringify({ p: batch }) + '\n');
        batch = [];
      };
      for (const n of nodes) {
        batch.push(n);
        if (batch.length >= SNAPSHOT_BATCH) flush();
      }
      flush();
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    syncDir(this.dir);
    this.fd = openSync(this.path, 'a', 0o600);
  }

  write(puts: Node[], deletes: string[]): void {
    if (this.fd === undefined) throw new Error('journal is closed');
    const rec: JournalRecord = {};
    if (puts.length) rec.p = puts;
    if (deletes.length) rec.d = deletes;
    writeSync(this.fd, JSON.stringify(rec) + '\n');
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** fsync a directory so a rename in it survives a crash (not possible on every platform; best effort). */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
