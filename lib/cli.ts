#!/usr/bin/env node
// The `jottadav` command line. It parses arguments and hands them to the layer that does the work;
// no logic lives here. Command names and flags are fixed: scripts and docs depend on them.
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import type { EmulatorCliOptions } from './emulator/command.js';
import type { ServeCliOptions } from './server/command.js';
import { serviceKeys } from './jottacloud/auth/services.js';
import type { AccountCliOptions, DevicesCliOptions, LoginCliOptions } from './jottacloud/commands.js';
import type { ConfigCliOptions } from './config/commands.js';
import type { WarmCliOptions } from './server/warm-command.js';

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

  // No commander defaults here: a flag overrides the config file and JOTTADAV_* only when it is given.
  program
    .command('serve')
    .description('Serve the configured Jottacloud account (or the embedded emulator) over WebDAV.')
    .option('--host <host>', 'address to listen on (default 127.0.0.1; 0.0.0.0 = every interface)')
    .option('--port <port>', 'port to listen on (default 8080; 0 = any free port)', integer('--port', 0, 65535))
    .option('--config <file>', 'configuration file')
    .option('--user <name>', 'the one user who may log in (also JOTTADAV_USER)')
    .option('--pass <password>', 'that user\'s password (also JOTTADAV_PASS, which keeps it out of the process list)')
    .option('--htpasswd <file>', 'users from an Apache htpasswd file (bcrypt, APR1 or {SHA})')
    .option('--read-only', 'every user may read but not change anything')
    .option('--anonymous', 'let visitors without credentials read (never write)')
    .option('--cert <file>', 'TLS certificate (PEM) — serve HTTPS; needs --key')
    .option('--key <file>', 'TLS private key (PEM)')
    .option('--base-path <path>', 'URL path of the share, e.g. /dav (default /)')
    .option('--metrics-port <port>', 'port for /healthz and /metrics on 127.0.0.1 (default 9180)', integer('--metrics-port', 0, 65535))
    .option('--no-metrics', 'no /healthz and /metrics port')
    .action(async (opts: ServeCliOptions) => {
      const { runServeCommand } = await import('./server/command.js');
      await runServeCommand(opts);
    });

  const config = () => new Option('--config <file>', 'configuration file (default: <config dir>/config.yaml)');

  program
    .command('login')
    .summary('Sign in to Jottacloud and save the account and its token set.')
    .description(
      'Sign in to Jottacloud, choose the device and mountpoint, and save the account and its token set.\n' +
        'Without flags it asks step by step; scripts pass --token (or --kind/--service, --username/--password).',
    )
    .addOption(new Option('--kind <kind>', 'how to sign in (default: standard with --token, else asked)').choices(['standard', 'whitelabel', 'legacy']))
    .option('--token <token>', 'personal login token (standard; Settings → Security in the web UI; works once)')
    .addOption(new Option('--service <key>', 'white-label service for the browser sign-in (whitelabel)').choices(serviceKeys()))
    .option('--username <name>', 'user name / e-mail (legacy)')
    .option('--password <password>', 'password (legacy; asked when omitted; visible to other local users in the process list)')
    .option('--password-stdin', 'read the password from the first line of standard input (legacy)')
    .option('--otp <code>', 'SMS verification code (legacy two-factor; from an earlier attempt)')
    .option('--register', 'register a client for this machine first (legacy)')
    .option('--browser-timeout <seconds>', 'how long to wait for the browser (whitelabel)', integer('--browser-timeout', 1, 3600), 300)
    .option('--callback-port <port>', 'port on 127.0.0.1 the browser returns to (whitelabel; 0 = any free port)', integer('--callback-port', 0, 65535), 53682)
    .option('--device <name>', 'device to serve (default Jotta; created if missing)')
    .option('--mountpoint <name>', 'mountpoint to serve (default Archive; created if missing, except on Jotta)')
    .option('--endpoints <url>', 'talk to this origin instead of Jottacloud (e.g. the emulator, http://127.0.0.1:18080)')
    .addOption(config())
    .action(async (opts: LoginCliOptions) => {
      const { runLogin } = await import('./jottacloud/commands.js');
      await runLogin(opts);
    });

  program
    .command('devices')
    .description('List devices and their mountpoints; create a device or a mountpoint.')
    .option('--create-device <name>', 'create a backup device with this name')
    .option('--create-mountpoint <name>', 'create a mountpoint with this name (on --device, default the configured one)')
    .option('--device <name>', 'device for --create-mountpoint')
    .option('--json', 'print JSON')
    .addOption(config())
    .action(async (opts: DevicesCliOptions) => {
      const { runDevices } = await import('./jottacloud/commands.js');
      await runDevices(opts);
    });

  program
    .command('about')
    .description('Show the user, plan and quota (used, free, total).')
    .option('--json', 'print JSON (sizes in bytes)')
    .addOption(config())
    .action(async (opts: AccountCliOptions) => {
      const { runAbout } = await import('./jottacloud/commands.js');
      await runAbout(opts);
    });

  program
    .command('cleanup')
    .description('Empty the trash (everything in it is deleted for good) and report what was removed.')
    .option('--json', 'print JSON')
    .addOption(config())
    .action(async (opts: AccountCliOptions) => {
      const { runCleanup } = await import('./jottacloud/commands.js');
      await runCleanup(opts);
    });

  const configCommand = program.command('config').description('Check the configuration, show it (secrets redacted), or print its option table.');
  configCommand
    .command('check')
    .description('Validate the configuration and what it points to (files, Redis, a saved token set); exit code 1 on a problem.')
    .addOption(config())
    .action(async (opts: ConfigCliOptions) => {
      const { runConfigCheck } = await import('./config/commands.js');
      await runConfigCheck(opts);
    });
  configCommand
    .command('show')
    .description('Print the effective configuration (defaults < file < JOTTADAV_* variables), secrets redacted.')
    .option('--json', 'print JSON instead of YAML')
    .addOption(config())
    .action(async (opts: ConfigCliOptions) => {
      const { runConfigShow } = await import('./config/commands.js');
      await runConfigShow(opts);
    });
  configCommand
    .command('docs')
    .description('Print every option with its default as a Markdown table (the README\'s "Configuration" table).')
    .action(async () => {
      const { runConfigDocs } = await import('./config/commands.js');
      await runConfigDocs();
    });

  program
    .command('warm')
    .description('List every folder once to fill the metadata cache (with store: redis://…, for the serving instances).')
    .option('--path <folder>', 'folder of the share to start at (default its root)')
    .option('--depth <levels>', 'folder levels to go below the start (default all)', integer('--depth', 0, 10_000))
    .option('--concurrency <n>', 'folders listed at the same time', integer('--concurrency', 1, 32), 4)
    .addOption(config())
    .action(async (opts: WarmCliOptions) => {
      const { runWarmCommand } = await import('./server/warm-command.js');
      await runWarmCommand(opts);
    });
  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    console.error(`jottadav: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
