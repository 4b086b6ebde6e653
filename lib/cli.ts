#!/usr/bin/env node
// The `jottadav` command line. It parses arguments and hands them to the layer that does the work;
// no logic lives here. Command names and flags are fixed: scripts and docs depend on them.
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import type { EmulatorCliOptions } from './emulator/command.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function integer(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number.`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}.`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command('jottadav')
    .description('A WebDAV server that puts a Jottacloud account on the network as a drive.')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('emulator')
    .description('Run a local Jottacloud emulator (the service every test runs against).')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', integer('--port', 0, 65535), 18080)
    .addOption(new Option('--data <dir>', 'keep the account in this folder across restarts').conflicts('memory'))
    .addOption(new Option('--memory', 'keep everything in memory (lost on exit)').conflicts('data'))
    .option('--user <name>', 'the account\'s user name', 'jottadav-user')
    .option('--latency <ms>', 'added latency per request, in milliseconds', integer('--latency'), 0)
    .option('--bandwidth <bytesPerSecond>', 'cap on body bytes per second per connection (0 = none)', integer('--bandwidth'), 0)
    .option('--faults <spec>', 'fault injection, e.g. "status=503,every=10;cut-upload=1048576" (see README)')
    .action(async (opts: EmulatorCliOptions) => {
      const { runEmulatorCommand } = await import('./emulator/command.js');
      await runEmulatorCommand(opts);
    });

  program
    .command('serve')
    .description('Serve the configured Jottacloud account (or the embedded emulator) over WebDAV.')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', integer('--port', 0, 65535), 8080)
    .option('--config <file>', 'configuration file')
    .action(async (opts: Record<string, unknown>) => {
      const { runServeCommand } = await import('./server/command.js');
      await runServeCommand(opts);
    });

  for (const [name, description] of [
    ['login', 'Sign in to Jottacloud and store the token set.'],
    ['devices', 'List devices and mountpoints; create a device or a mountpoint.'],
    ['about', 'Show the user, plan and quota.'],
    ['cleanup', 'Empty the trash.'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .allowUnknownOption(true)
      .helpOption(false)
      .argument('[args...]')
      .action(async (args: string[]) => {
        const { runAccountCommand } = await import('./jottacloud/commands.js');
        await runAccountCommand(name, args);
      });
  }
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(`jottadav: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
