import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../lib/cli.js', import.meta.url));

describe('jottadav CLI', () => {
  it('lists every command in --help', async () => {
    const { stdout } = await run(process.execPath, [cli, '--help']);
    for (const cmd of ['emulator', 'serve', 'login', 'devices', 'about', 'cleanup']) {
      expect(stdout).to.match(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    }
  });

  it('documents the emulator flags', async () => {
    const { stdout } = await run(process.execPath, [cli, 'emulator', '--help']);
    for (const flag of ['--host', '--port', '--data', '--memory', '--user', '--latency', '--bandwidth', '--faults']) {
      expect(stdout).to.include(flag);
    }
  });

  it('rejects a port that is not a number, with a clear message', async () => {
    const err = await run(process.execPath, [cli, 'emulator', '--port', 'abc']).then(
      () => null,
      (e: { stderr: string; code: number }) => e,
    );
    expect(err).to.not.equal(null);
    expect(err!.code).to.not.equal(0);
    expect(err!.stderr).to.include('--port must be a whole number');
  });
});
