// `jottadav login | devices | about | cleanup`: the account commands. `login` signs in (three kinds, asked
// step by step or given by flags), saves the token set, picks the device and mountpoint from the account's
// real list and writes the `account` section of the config; the others open the configured account and
// call the API client. Every failure ends up as one line on stderr (lib/cli.ts) with no secret in it.
import { existsSync } from 'node:fs';
import { loadConfig, updateUserConfig, type Config } from '../config/index.js';
import { endpointsFromSetting, type Endpoints } from './endpoints.js';
import {
  authContext,
  findService,
  loginLegacy,
  loginWithBrowser,
  loginWithLoginToken,
  registerLegacyClient,
  whiteLabelServices,
  type AuthContext,
  type TokenSet,
} from './auth/index.js';
import { TokenManager, type TokenStore } from './tokens.js';
import { openTokenStore } from './token-store-redis.js';
import { DEFAULT_DEVICE, DEFAULT_MOUNTPOINT, JottacloudClient } from './client.js';

export interface AccountCliOptions {
  config?: string;
  json?: boolean;
}

export interface DevicesCliOptions extends AccountCliOptions {
  createDevice?: string;
  createMountpoint?: string;
  device?: string;
}

export interface LoginCliOptions {
  config?: string;
  kind?: 'standard' | 'whitelabel' | 'legacy';
  token?: string;
  service?: string;
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  otp?: string;
  register?: boolean;
  browserTimeout?: number;
  callbackPort?: number;
  device?: string;
  mountpoint?: string;
  endpoints?: string;
}

const defaultDevice = DEFAULT_DEVICE;
const defaultMountpoint = DEFAULT_MOUNTPOINT;

export class CommandError extends Error {
  override name = 'CommandError';
}

// ---------------------------------------------------------------------------------------------------
// Opening the configured account

interface OpenAccount {
  config: Config;
  configPath: string;
  endpoints: Endpoints;
  tokens: TokenManager;
  api: JottacloudClient;
  /** Closes the token store's connection (Redis); the command must call it when done. */
  close(): Promise<void>;
}

function openApi(endpoints: Endpoints, tokens: TokenManager, username?: string): JottacloudClient {
  return new JottacloudClient({ endpoints, tokens, ...(username ? { username } : {}) });
}

async function openAccount(file: string | undefined): Promise<OpenAccount> {
  const { config, path } = loadConfig({ file });
  const account = config.account;
  if (!account) throw new CommandError(`No Jottacloud account is configured in ${path}; run \`jottadav login\` first.`);
  const endpoints = endpointsFromSetting(config.endpoints);
  const opened = await openTokenStore(config);
  const tokens = new TokenManager({ store: opened.store, endpoints });
  return { config, configPath: path, endpoints, tokens, api: openApi(endpoints, tokens, account.username), close: opened.close };
}

/** Runs a command on the configured account and closes what it opened, also when the command fails. */
async function withAccount<T>(file: string | undefined, fn: (account: OpenAccount) => Promise<T>): Promise<T> {
  const account = await openAccount(file);
  try {
    return await fn(account);
  } finally {
    await account.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Output

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function humanBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------------
// about

export async function runAbout(opts: AccountCliOptions): Promise<void> {
  await withAccount(opts.config, (account) => about(account, opts));
}

async function about({ api }: OpenAccount, opts: AccountCliOptions): Promise<void> {
  const [customer, drive] = await Promise.all([api.customerInfo(), api.driveInfo()]);
  const q = drive.quota;
  const plan = customer.subscriptionType ?? customer.accountType ?? drive.accountType;
  if (opts.json) {
    printJson({
      username: customer.username,
      email: customer.email ?? null,
      name: customer.name ?? null,
      plan: plan ?? null,
      accountType: drive.accountType ?? customer.accountType ?? null,
      quota: { used: q.usage, total: q.unlimited ? null : q.capacity, free: q.unlimited ? null : q.free, unlimited: q.unlimited, exceeded: q.exceeded },
      locked: { read: drive.readLocked, write: drive.writeLocked, quotaWrite: drive.quotaWriteLocked },
      devices: drive.devices.length,
    });
    return;
  }
  print(`User:     ${customer.username}${customer.email ? ` <${customer.email}>` : ''}${customer.name ? ` (${customer.name})` : ''}`);
  if (plan) print(`Plan:     ${plan}`);
  print(`Used:     ${humanBytes(q.usage)}`);
  if (q.unlimited) print('Total:    unlimited');
  else {
    print(`Free:     ${humanBytes(q.free ?? 0)}`);
    print(`Total:    ${humanBytes(q.capacity ?? 0)}`);
  }
  if (q.exceeded) print('Warning:  the quota is used up; uploads will fail until space is freed (try `jottadav cleanup`).');
  if (drive.readLocked || drive.writeLocked) print(`Locked:   ${[drive.readLocked && 'read', drive.writeLocked && 'write'].filter(Boolean).join(', ')}`);
}

// ---------------------------------------------------------------------------------------------------
// cleanup

export async function runCleanup(opts: AccountCliOptions): Promise<void> {
  const result = await withAccount(opts.config, ({ api }) => api.purgeTrash());
  if (opts.json) {
    printJson(result);
    return;
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  print(`Emptied the trash: ${plural(result.files, 'file')} and ${plural(result.folders, 'folder')} deleted for good.`);
}

// ---------------------------------------------------------------------------------------------------
// devices

export async function runDevices(opts: DevicesCliOptions): Promise<void> {
  await withAccount(opts.config, (account) => showDevices(account, opts));
}

async function showDevices({ api, config }: OpenAccount, opts: DevicesCliOptions): Promise<void> {
  if (opts.createDevice) {
    const name = opts.createDevice.trim();
    const drive = await api.driveInfo();
    const existing = drive.devices.find((d) => d.name.toLowerCase() === name.toLowerCase());
    if (existing) throw new CommandError(`The device ${existing.name} already exists.`);
    await api.createDevice(name);
    if (!opts.json) print(`Created device ${name}.`);
  }
  if (opts.createMountpoint) {
    const device = opts.device ?? config.account!.device;
    if (device.toLowerCase() === defaultDevice.toLowerCase()) {
      throw new CommandError(`Mountpoints cannot be created on the built-in device ${defaultDevice}; create a device first (--create-device NAME).`);
    }
    const name = opts.createMountpoint.trim();
    const info = await api.deviceInfo(device);
    const existing = info.mountPoints.find((m) => m.name.toLowerCase() === name.toLowerCase());
    if (existing) throw new CommandError(`The mountpoint ${existing.name} already exists on ${info.name}.`);
    await api.createMountPoint(name, info.name);
    if (!opts.json) print(`Created mountpoint ${name} on ${info.name}.`);
  }
  const drive = await api.driveInfo();
  const devices = await Promise.all(drive.devices.map((d) => api.deviceInfo(d.name)));
  const account = config.account!;
  if (opts.json) {
    printJson(
      devices.map((d) => ({
        name: d.name,
        type: d.type ?? null,
        size: d.size ?? null,
        modified: d.modified?.toISOString() ?? null,
        mountpoints: d.mountPoints.map((m) => ({ name: m.name, size: m.size ?? null, modified: m.modified?.toISOString() ?? null })),
      })),
    );
    return;
  }
  for (const d of devices) {
    const inUse = d.name === account.device;
    print(`${d.name}${d.type ? ` (${d.type})` : ''}${d.size !== undefined ? `  ${humanBytes(d.size)}` : ''}`);
    for (const m of d.mountPoints) {
      const mark = inUse && m.name === account.mountpoint ? '  ← served' : '';
      print(`  ${m.name}${m.size !== undefined ? `  ${humanBytes(m.size)}` : ''}${mark}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// login

/** The interactive questions, answered by @inquirer/prompts on a terminal. */
interface Asker {
  select(message: string, choices: { name: string; value: string; description?: string }[], defaultValue?: string): Promise<string>;
  input(message: string, defaultValue?: string): Promise<string>;
  /** Hidden input; `showMask` echoes a star per character (right for a password, noise for a 300-character token). */
  password(message: string, showMask?: boolean): Promise<string>;
  confirm(message: string, defaultValue: boolean): Promise<boolean>;
}

async function terminalAsker(): Promise<Asker> {
  const prompts = await import('@inquirer/prompts');
  const required = (v: string) => (v.trim() ? true : 'Please enter a value.');
  return {
    select: (message, choices, defaultValue) => prompts.select({ message, choices, default: defaultValue }),
    input: (message, defaultValue) => prompts.input({ message, default: defaultValue, validate: required }),
    password: (message, showMask = true) => prompts.password({ message, ...(showMask ? { mask: '*' } : {}), validate: required }),
    confirm: (message, defaultValue) => prompts.confirm({ message, default: defaultValue }),
  };
}

function interactive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

async function signIn(ctx: AuthContext, opts: LoginCliOptions, ask: Asker | undefined): Promise<TokenSet> {
  let kind = opts.kind ?? (opts.token ? 'standard' : opts.service ? 'whitelabel' : opts.username ? 'legacy' : undefined);
  if (!kind) {
    if (!ask) throw new CommandError('Say how to sign in: --token <personal login token>, --kind whitelabel --service <key>, or --kind legacy --username <name>.');
    kind = (await ask.select(
      'How do you want to sign in?',
      [
        { name: 'Personal login token (recommended)', value: 'standard', description: 'Generate one under Settings → Security in the web UI.' },
        { name: 'In a browser (Jottacloud or a white-label service)', value: 'whitelabel', description: 'Elkjøp, Telia, Tele2, … Needs a browser.' },
        { name: 'User name and password (legacy)', value: 'legacy', description: 'No longer offered by known services.' },
      ],
      'standard',
    )) as LoginCliOptions['kind'];
  }
  switch (kind) {
    case 'standard': {
      const token = opts.token ?? (ask ? await ask.password('Personal login token (input hidden):', false) : undefined);
      if (!token) throw new CommandError('Pass the personal login token with --token.');
      return loginWithLoginToken(ctx, token);
    }
    case 'whitelabel': {
      let key = opts.service;
      if (!key) {
        if (!ask) throw new CommandError(`Pass --service, one of: ${whiteLabelServices.map((s) => s.key).join(', ')}.`);
        key = await ask.select(
          'Which service?',
          whiteLabelServices.map((s) => ({ name: s.name, value: s.key })),
          'jottacloud',
        );
      }
      const service = findService(key);
      if (!service) throw new CommandError(`Unknown service ${key}; choose one of: ${whiteLabelServices.map((s) => s.key).join(', ')}.`);
      return loginWithBrowser(ctx, {
        service,
        timeoutMs: (opts.browserTimeout ?? 300) * 1000,
        callbackPort: opts.callbackPort,
        openUrl: (url) => {
          print(`Open this address in a browser and sign in to ${service.name}:`);
          print(url);
          print(`Waiting up to ${opts.browserTimeout ?? 300} seconds…`);
        },
      });
    }
    case 'legacy': {
      const username = opts.username ?? (ask ? await ask.input('User name (e-mail address):') : undefined);
      if (!username) throw new CommandError('Pass the user name with --username.');
      const password =
        opts.password ?? (opts.passwordStdin ? await firstLineOfStdin() : ask ? await ask.password('Password (used once, not saved):') : undefined);
      if (!password) throw new CommandError('Pass the password with --password.');
      const register = opts.register ?? (ask && !opts.username ? await ask.confirm('Register a client for this machine (recommended when you use several machines)?', false) : false);
      const client = register ? await registerLegacyClient(ctx) : undefined;
      return loginLegacy(ctx, {
        username,
        password,
        client,
        otp: opts.otp,
        askOtp: ask ? () => ask.input('Verification code from the SMS:') : undefined,
      });
    }
    default:
      throw new CommandError(`Unknown kind of sign-in ${String(kind)}.`);
  }
}

/** Picks the device (creating it if asked for by a new name) and returns its name as the service spells it. */
async function chooseDevice(api: JottacloudClient, wanted: string | undefined, ask: Asker | undefined): Promise<string> {
  const drive = await api.driveInfo();
  const names = drive.devices.map((d) => d.name);
  // The built-in device first: it is the default and what the official client's archive uses.
  names.sort((a, b) => Number(b === defaultDevice) - Number(a === defaultDevice));
  let name = wanted;
  if (!name && ask) {
    const choice = await ask.select(
      'Which device?',
      [...names.map((n) => ({ name: n, value: n })), { name: 'Create a new device…', value: '\u0000new' }],
      names.includes(defaultDevice) ? defaultDevice : names[0],
    );
    name = choice === '\u0000new' ? await ask.input('Name of the new device:') : choice;
  }
  name = (name ?? defaultDevice).trim();
  const existing = names.find((n) => n.toLowerCase() === name!.toLowerCase());
  if (existing) return existing;
  await api.createDevice(name);
  print(`Created device ${name}.`);
  return name;
}

async function chooseMountpoint(api: JottacloudClient, device: string, wanted: string | undefined, ask: Asker | undefined): Promise<string> {
  const info = await api.deviceInfo(device);
  const names = info.mountPoints.map((m) => m.name);
  let name = wanted;
  if (!name && ask) {
    const builtIn = device === defaultDevice;
    const choices = names.map((n) => ({ name: n, value: n }));
    if (!builtIn) choices.push({ name: 'Create a new mountpoint…', value: '\u0000new' });
    const choice = await ask.select('Which mountpoint?', choices, names.includes(defaultMountpoint) ? defaultMountpoint : names[0]);
    name = choice === '\u0000new' ? await ask.input('Name of the new mountpoint:') : choice;
  }
  name = (name ?? (names.includes(defaultMountpoint) || names.length === 0 ? defaultMountpoint : names[0]!)).trim();
  const existing = names.find((n) => n.toLowerCase() === name!.toLowerCase());
  if (existing) return existing;
  if (device === defaultDevice) {
    throw new CommandError(`The built-in device ${defaultDevice} has no mountpoint ${name}, and none can be created on it; choose one of: ${names.join(', ')}.`);
  }
  await api.createMountPoint(name, device);
  print(`Created mountpoint ${name} on ${device}.`);
  return name;
}

export async function runLogin(opts: LoginCliOptions): Promise<void> {
  if (opts.config && !existsSync(opts.config)) {
    // The file is created by this command; loadConfig insists on an existing --config, so start from defaults.
    await updateUserConfig(opts.config, {});
  }
  const { config, path } = loadConfig({ file: opts.config, flags: opts.endpoints ? { endpoints: opts.endpoints } : {} });
  const endpoints = endpointsFromSetting(config.endpoints);
  const ask = interactive() ? await terminalAsker() : undefined;
  // Given a way to sign in by flags, the command runs as a script would want: it asks only for what it cannot
  // do without (a password, the SMS code) and takes the default device and mountpoint unless flags say otherwise.
  const wizard = opts.kind === undefined && !opts.token && !opts.service && !opts.username ? ask : undefined;
  const ctx = authContext(endpoints);

  let set: TokenSet;
  try {
    set = await signIn(ctx, opts, ask);
  } catch (err) {
    if (isPromptExit(err)) throw new CommandError('Login cancelled.');
    throw err;
  }

  // Saved before anything uses it: the account calls below may already need to refresh it.
  const opened = await openTokenStore(config);
  try {
    await finishLogin(opts, path, endpoints, set, opened.store, wizard);
  } finally {
    await opened.close();
  }
}

async function finishLogin(
  opts: LoginCliOptions,
  path: string,
  endpoints: Endpoints,
  set: TokenSet,
  store: TokenStore,
  wizard: Asker | undefined,
): Promise<void> {
  await store.withRefreshLock(() => store.write(set));
  const tokens = new TokenManager({ store, endpoints });
  const api = openApi(endpoints, tokens);
  const customer = await api.customerInfo();
  let device: string;
  let mountpoint: string;
  try {
    device = await chooseDevice(api, opts.device, wizard);
    mountpoint = await chooseMountpoint(api, device, opts.mountpoint, wizard);
  } catch (err) {
    if (isPromptExit(err)) throw new CommandError('Login cancelled (the token set is saved; run `jottadav login` again to finish).');
    throw err;
  }

  await updateUserConfig(path, {
    account: {
      kind: set.kind,
      service: set.service,
      username: customer.username,
      tokenUrl: set.tokenUrl,
      clientId: set.clientId,
      ...(set.clientSecret ? { clientSecret: set.clientSecret } : {}),
      device,
      mountpoint,
    },
    ...(opts.endpoints ? { endpoints: opts.endpoints } : {}),
  });
  print(`Signed in as ${customer.username}${customer.email ? ` <${customer.email}>` : ''}; serving ${device}/${mountpoint}.`);
  print(`Config: ${path}`);
  print(`Tokens: ${store.location}`);
}

async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

function isPromptExit(err: unknown): boolean {
  return err instanceof Error && err.name === 'ExitPromptError';
}
