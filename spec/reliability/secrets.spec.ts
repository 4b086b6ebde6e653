// Secrets never in logs, over a whole `jottadav serve` session in a child process at debug level: sign-in with a
// personal login token, uploads and reads, a wrong password, token expiry and refresh, a flaky refresh endpoint,
// failures with the service's error bodies, a revoked refresh token, a new login. Every secret that existed at any
// point — the WebDAV passwords (plain and as Basic credentials), each login token and its inner auth token, every
// access, refresh and id token the token file ever held — is looked for in everything the process printed.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type { RunningEmulator } from '../../lib/emulator/index.js';
import { startTestEmulator } from '../helpers/emulator.js';
import { basicAuth } from '../helpers/stack.js';
import { handleOf, startServeProcess, type ServeProcess } from '../helpers/serve-process.js';
import { content, counts, dav, Ledger, put, Remote } from './support.js';

describe('reliability: no secret in a debug-level session of jottadav serve', function () {
  this.timeout(120_000);
  let emu: RunningEmulator;
  let serve: ServeProcess;
  const secrets = new Set<string>();

  before(async () => {
    emu = await startTestEmulator();
    const handle = handleOf(emu);
    // Every login token handed out (to `jottadav login` and to the verification login) is a secret.
    const minting = {
      ...handle,
      mintLoginToken: async () => {
        const token = await handle.mintLoginToken();
        secrets.add(token);
        secrets.add((JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { auth_token: string }).auth_token);
        return token;
      },
    };
    serve = await startServeProcess({ emulator: minting, config: { log: { level: 'debug' } } });
  });
  after(async () => {
    await serve?.close();
    await emu?.close();
  });

  /** The token set now in the token file: each of its tokens joins the secrets. */
  function collectTokens(): void {
    const stored = JSON.parse(readFileSync(serve.tokenFile, 'utf8')) as { tokens: Record<string, string | undefined> };
    for (const key of ['accessToken', 'refreshToken', 'idToken']) {
      const value = stored.tokens[key];
      if (value) secrets.add(value);
    }
  }

  it('prints none of them, whatever happened', async () => {
    const ledger = new Ledger();
    secrets.add(serve.user.password);
    secrets.add(serve.auth.replace(/^Basic /, ''));
    collectTokens();
    expect((await dav(serve, 'MKCOL', 's')).status).to.equal(201);
    expect(await put(serve, ledger, 's/one.bin', content('secret-session-1', 80_000))).to.equal(201);
    expect((await dav(serve, 'GET', 's/one.bin')).status).to.equal(200);

    const wrong = 'Wrong-Password-Attempt-42';
    secrets.add(wrong);
    secrets.add(basicAuth(serve.user.name, wrong).replace(/^Basic /, ''));
    expect((await dav({ url: serve.url, auth: basicAuth(serve.user.name, wrong) }, 'PROPFIND', '', { headers: { Depth: '0' } })).status).to.equal(401);

    // Expiry and refresh (the new set is secret too), then a refresh that fails twice before it works.
    emu.setFaults('expire-tokens;count=1');
    expect(await put(serve, ledger, 's/two.bin', content('secret-session-2', 10_000))).to.equal(201);
    collectTokens();
    emu.setFaults('expire-tokens;count=1;status=503;path=/auth/;count=2');
    expect(await put(serve, ledger, 's/three.bin', content('secret-session-3', 10_000))).to.equal(201);
    collectTokens();
    // Failures whose error bodies come from the service.
    emu.setFaults('status=500;path=/files/v1/allocate');
    expect(await put(serve, ledger, 's/four.bin', content('secret-session-4', 10_000))).to.be.within(500, 599);
    // The refresh token revoked: every request fails until a new login.
    emu.setFaults('expire-tokens;revoke-refresh');
    expect(await put(serve, ledger, 's/five.bin', content('secret-session-5', 10_000))).to.equal(503);
    emu.setFaults(undefined);
    await serve.relogin();
    collectTokens();
    expect(await put(serve, ledger, 's/six.bin', content('secret-session-6', 10_000))).to.equal(201);
    collectTokens();
    counts.faultsInjected += 4;

    await ledger.verify(new Remote(handleOf(emu)));
    counts.uploadsVerified += ledger.verified;
    await serve.stop('SIGTERM');

    const output = serve.allOutput();
    expect(output, 'the session logged at debug level').to.match(/debug/);
    expect(output).to.match(/token refresh/);
    expect(secrets.size, 'secrets collected').to.be.at.least(10);
    for (const secret of secrets) expect(output.includes(secret), `a secret (${secret.slice(0, 4)}…) in the output`).to.equal(false);
    await serve.restart();
  });
});
