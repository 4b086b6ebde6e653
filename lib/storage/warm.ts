// Pre-filling the metadata cache (`jottadav warm`): every folder under a start path is listed once, breadth
// first, a few at a time, through the provider — which stores each listing in the cache as any request would.
// Worth it when the cache outlives the command, i.e. in a shared store (Redis) the serving instances read:
// the first PROPFIND of a large account then costs nothing.
import type { StorageProvider } from './types.js';

export interface WarmProgress {
  /** Folders listed so far, and known (listed + waiting). */
  folders: number;
  known: number;
  files: number;
  bytes: number;
  /** The folder just listed. */
  current: string;
}

export interface WarmOptions {
  /** Where to start; default the share's root. */
  root?: string;
  /** Folder levels below the root to go; default unlimited. */
  depth?: number;
  /** Folders listed at the same time. Default 4 (the service paces callers anyway). */
  concurrency?: number;
  onProgress?: (p: WarmProgress) => void;
  /** A folder that cannot be listed (gone meanwhile, refused) is counted and skipped. */
  onSkip?: (path: string, err: unknown) => void;
}

export interface WarmResult {
  folders: number;
  files: number;
  bytes: number;
  skipped: number;
}

export async function warmTree(storage: StorageProvider, opts: WarmOptions = {}): Promise<WarmResult> {
  const queue: { path: string; level: number }[] = [{ path: opts.root ?? '/', level: 0 }];
  const maxDepth = opts.depth ?? Infinity;
  const state = { folders: 0, files: 0, bytes: 0, skipped: 0 };
  let known = 1;

  const listOne = async (item: { path: string; level: number }): Promise<void> => {
    try {
      const children = await storage.list(item.path);
      for (const c of children) {
        if (c.kind === 'folder') {
          if (item.level < maxDepth) {
            queue.push({ path: c.path, level: item.level + 1 });
            known++;
          }
        } else {
          state.files++;
          state.bytes += c.size;
        }
      }
      state.folders++;
    } catch (err) {
      state.skipped++;
      known--;
      opts.onSkip?.(item.path, err);
    }
    opts.onProgress?.({ folders: state.folders, known, files: state.files, bytes: state.bytes, current: item.path });
  };

  // A small pool: each finished listing may queue more folders, so refill until nothing runs and nothing waits.
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  let active = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (active < concurrency && queue.length) {
        const item = queue.shift()!;
        active++;
        void listOne(item).finally(() => {
          active--;
          pump();
        });
      }
      if (active === 0 && queue.length === 0) resolve();
    };
    pump();
  });
  return state;
}
