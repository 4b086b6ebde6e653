// `jottadav emulator`: start the local Jottacloud emulator from the command line.
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

export async function runEmulatorCommand(_opts: EmulatorCliOptions): Promise<void> {
  throw new Error('the emulator is not built yet');
}
