// cadaver (Debian's, neon-based) scripted against `jottadav serve` over the embedded emulator: one session
// of put, get, mkcol, move, copy, lock, discover, unlock, propset/propget, rm — each step must report
// success, the downloaded bytes must match, and the server's PID must be alive afterwards.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { requireTool } from '../helpers/tools.js';
import { runTool, startServe, type ServeProcess } from './webdav-client-serve.js';

async function cadaver(url: string, home: string, script: string): Promise<string> {
  const { out } = await runTool('cadaver', [url], { cwd: home, env: { PATH: process.env.PATH, HOME: home }, stdin: script, timeoutMs: 120_000 });
  return out;
}

describe('interop: cadaver against jottadav serve', function () {
  this.timeout(180_000);
  let serve: ServeProcess;
  let home: string;

  before(async function () {
    requireTool(this, 'cadaver', 'cadaver', '--version');
    serve = await startServe();
    home = mkdtempSync(join(tmpdir(), 'jottadav-cadaver-'));
    // cadaver takes credentials from ~/.netrc when it is not interactive
    writeFileSync(join(home, '.netrc'), `machine 127.0.0.1 login ${serve.user} password ${serve.pass}\n`, { mode: 0o600 });
  });
  after(async () => {
    await serve?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('runs a scripted session: put, get, mkcol, move, copy, lock, unlock, propget', async () => {
    const content = `cadaver was here ${Date.now()}\n${'x'.repeat(20_000)}\n`;
    writeFileSync(join(home, 'local.txt'), content);
    const out = await cadaver(
      serve.url,
      home,
      [
        'mkcol docs',
        'put local.txt docs/a.txt',
        'copy docs/a.txt docs/b.txt',
        'move docs/b.txt docs/c.txt',
        'lock docs/c.txt',
        'discover docs/c.txt',
        'unlock docs/c.txt',
        'propset docs/a.txt colour blue',
        'propget docs/a.txt colour',
        'propget docs/a.txt',
        'get docs/c.txt back.txt',
        'rm docs/a.txt',
        'ls docs',
        'quit',
        '',
      ].join('\n'),
    );
    expect(serve.alive(), `server PID ${serve.pid} died`).to.equal(true);
    for (const step of ["Creating `docs': succeeded", "Uploading local.txt to `/docs/a.txt'", "Copying `/docs/a.txt' to `/docs/b.txt':  succeeded", "Moving `/docs/b.txt' to `/docs/c.txt':  succeeded", "Locking `docs/c.txt': succeeded", "Unlocking `docs/c.txt': succeeded", "Setting property on `docs/a.txt': succeeded", "Deleting `docs/a.txt': succeeded"]) {
      expect(out, out).to.include(step);
    }
    expect(out).to.match(/Lock token <opaquelocktoken:[0-9a-f-]+>/);
    expect(out).to.include('Value of colour is: blue');
    expect(out).to.match(/DAV: getetag = "/);
    expect(out).not.to.match(/failed/i);
    expect(readFileSync(join(home, 'back.txt'), 'utf8')).to.equal(content);
    // after rm only c.txt is left
    const listing = out.slice(out.lastIndexOf("Listing collection `/docs/'"));
    expect(listing).to.include('c.txt');
    expect(listing).not.to.include('a.txt');
  });
});
