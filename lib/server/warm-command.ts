// `jottadav warm`: builds the same layers as `serve` (the configured account, the configured store) and lists
// every folder once, so the metadata cache holds the whole tree before clients ask. With `store: redis://…`
// the listings stay in Redis for the serving instances (for `cacheTtlSec`); with the local store the cache
// ends with this command, so warm is then only a count of the tree — it says so.
import { dirname } from 'node:path';
import { configDir as defaultConfigDir, loadConfig } from '../config/index.js';
import { humanBytes } from '../jottacloud/commands.js';
import { warmTree } from '../storage/warm.js';
import { startProgress } from '../util/progress.js';
import { createLogger } from './logging.js';
import { buildStack } from './stack.js';

export interface WarmCliOptions {
  config?: string;
  /** Folder levels to go below the start; default all. */
  depth?: number;
  /** Folder of the share to start at; default its root. */
  path?: string;
  /** Folders listed at the same time. */
  concurrency?: number;
}

export async function runWarmCommand(opts: WarmCliOptions): Promise<void> {
  const { config, path } = loadConfig({ file: opts.config });
  if (!config.account) throw new Error(`No Jottacloud account is configured in ${path}; run \`jottadav login\` first.`);
  const stateDir = opts.config ? dirname(path) : defaultConfigDir();
  // Warnings only, and on stderr with the progress: stdout carries the summary.
  const logger = createLogger({ level: 'warn', json: config.log.json, stream: process.stderr });
  if (config.store === 'local') {
    process.stderr.write(`Note: store is local, so this cache ends with the command; warm pays off with store: redis://… (see "More than one instance").\n`);
  }
  if (config.storage.cacheTtlSec === 0) process.stderr.write('Note: storage.cacheTtlSec is 0 (no cache); warm only counts the tree.\n');
  const stack = await buildStack({ config, stateDir, logger });
  try {
    const progress = startProgress('warm');
    const result = await warmTree(stack.storage, {
      ...(opts.path ? { root: opts.path } : {}),
      ...(opts.depth !== undefined ? { depth: opts.depth } : {}),
      ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
      onProgress: (p) => progress.update(p.folders, p.known, `folders, ${p.files} files`),
      onSkip: (folder, err) => logger.warn(`skipped ${folder}: ${err instanceof Error ? err.message : String(err)}`),
    });
    progress.stop();
    process.stdout.write(
      `Listed ${result.folders} folder(s): ${result.files} file(s), ${humanBytes(result.bytes)}` +
        (result.skipped ? `; ${result.skipped} folder(s) could not be listed` : '') +
        (config.store === 'local' ? '.\n' : `; cached for ${config.storage.cacheTtlSec} s.\n`),
    );
    if (result.skipped) process.exitCode = 1;
  } finally {
    await stack.close();
    logger.close();
  }
}
