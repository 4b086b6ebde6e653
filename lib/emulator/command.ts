// `jottadav emulator`: start the local Jottacloud emulator from the command line, print its URL and a personal
// login token (also written to DATA/login-token, 0600), and run until SIGINT/SIGTERM.
import { join } from 'node:path';
import { FaultSpecError, parseFaults } from './faults.js';
import { paceCollections } from '../util/gc.js';
import { startEmulator } from './index.js';

export interface EmulatorCliOptions {
  host: string;
  port: number;
  data?: string;
  memory?: boolean;
  user: string;
  latency: number;
  bandwidth: number;
  faults?: string;
}

export async function runEmulatorCommand(opts: EmulatorCliOptions): Promise<void> {
  paceCollections(); // uploads arrive as many small chunks, as at the server (util/gc.ts)
  if (opts.faults) {
    try {
      parseFaults(opts.faults);
    } catch (e) {
      if (e instanceof FaultSpecError) throw new Error(`--faults: ${e.message}`);
      throw e;
    }
  }
  const log = (line: string) => console.error(`[emulator] ${line}`);
  const emu = await startEmulator({
    host: opts.host,
    port: opts.port,
    dataDir: opts.memory ? undefined : opts.data,
    user: opts.user,
    latencyMs: opts.latency,
    bandwidth: opts.bandwidth,
    faults: opts.faults,
    log,
  });
  const token = emu.mintLoginToken(); // also lands in DATA/login-token
  console.log(`Jottacloud emulator for user ${emu.user} listening on ${emu.url}`);
  console.log(emu.dataDir ? `Data: ${emu.dataDir} (login token in ${join(emu.dataDir, 'login-token')})` : 'Data: in memory');
  console.log(`Personal login token (single use; more from POST ${emu.url}/__emulator/login-token):`);
  console.log(token);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log(`${signal}: shutting down`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await emu.close();
}
