// Signing in, against the emulator over real HTTP: standard (personal login token), the browser flow for
// every white-label service (the test plays the browser: it follows the authorization URL), and legacy
// user name/password with and without SMS code and with a registered client. Every resulting access
// token is checked by calling the API with it.
import { expect } from 'chai';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmulator, type RunningEmulator } from '../../lib/emulator/index.js';
import {
  AuthError,
  authContext,
  decodeLoginToken,
  findService,
  loginLegacy,
  loginWithBrowser,
  loginWithLoginToken,
  OtpRequiredError,
  registerLegacyClient,
  whiteLabelServices,
  type AuthContext,
  type TokenSet,
} from '../../lib/jottacloud/auth/index.js';
import { redactSecrets } from '../../lib/jottacloud/auth/errors.js';
import { singleOriginEndpoints } from '../../lib/jottacloud/endpoints.js';

/** Plays the user's browser: opens the authorization URL, follows the service's redirect to our callback. */
async function browse(url: string): Promise<{ status: number; body: string }> {
  const first = await fetch(url, { redirect: 'manual' });
  expect(first.status, 'the authorization endpoint redirects').to.equal(302);
  const location = first.headers.get('location')!;
  // the callback is always on this machine: localhost (the default address) or 127.0.0.1 (any free port)
  expect(['localhost', '127.0.0.1']).to.include(new URL(location).hostname);
  const back = await fetch(location);
  return { status: back.status, body: await back.text() };
}

/** Calls the JSON API with the token: 200 proves the service accepts it. */
async function customerStatus(origin: string, set: TokenSet): Promise<number> {
  const res = await fetch(`${origin}/account/v1/customer`, { headers: { Authorization: `Bearer ${set.accessToken}` } });
  await res.arrayBuffer();
  return res.status;
}

describe('Jottacloud sign-in', () => {
  let emu: RunningEmulator;
  let ctx: AuthContext;

  before(async () => {
    emu = await startEmulator({ port: 0 });
    ctx = authContext(singleOriginEndpoints(emu.url));
  });
  after(async () => {
    await emu.close();
  });

  describe('standard (personal login token)', () => {
    it('decodes the token, reads the discovery document and signs in as jottacli', async () => {
      const token = emu.mintLoginToken();
      const decoded = decodeLoginToken(token);
      expect(decoded.username).to.equal(emu.user);
      // The token names the real service; the client must stay on the configured endpoints.
      expect(decoded.wellKnownLink).to.match(/^https:\/\/id\.jottacloud\.com\//);
      const set = await loginWithLoginToken(ctx, token);
      expect(set.kind).to.equal('standard');
      expect(set.clientId).to.equal('jottacli');
      expect(set.tokenUrl).to.equal(`${emu.url}/auth/realms/jottacloud/protocol/openid-connect/token`);
      expect(set.refreshToken).to.be.a('string').and.not.equal('');
      expect(Date.parse(set.expiresAt)).to.be.greaterThan(Date.now());
      expect(await customerStatus(emu.url, set)).to.equal(200);
    });

    it('a login token works once; the second use says so', async () => {
      const token = emu.mintLoginToken();
      await loginWithLoginToken(ctx, token);
      const err = await loginWithLoginToken(ctx, token).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).to.be.instanceOf(AuthError);
      expect(err!.message).to.match(/works only once/);
      expect(err!.message).to.not.include(decodeLoginToken(token).authToken);
    });

    it('rejects text that is not a login token before contacting anyone', () => {
      for (const bad of ['', 'not a token!', Buffer.from('{"username":"x"}').toString('base64url')]) {
        expect(() => decodeLoginToken(bad)).to.throw(AuthError, /personal login token is not valid/);
      }
    });
  });

  describe('white-label (browser, authorization code)', () => {
    for (const service of whiteLabelServices) {
      it(`signs in to ${service.name} (${service.key}, client ${service.clientId})`, async () => {
        let opened = '';
        const set = await loginWithBrowser(ctx, {
          service,
          timeoutMs: 20_000,
          openUrl: async (url) => {
            opened = url;
            const page = await browse(url);
            expect(page.status).to.equal(200);
            expect(page.body).to.include('Signed in');
          },
        });
        const auth = new URL(opened);
        expect(auth.origin).to.equal(emu.url);
        expect(auth.pathname).to.equal(`/auth/realms/${service.realm}/protocol/openid-connect/auth`);
        expect(auth.searchParams.get('client_id')).to.equal(service.clientId);
        expect(auth.searchParams.get('scope')).to.equal(service.scopes.join(' '));
        expect(auth.searchParams.get('code_challenge_method')).to.equal('S256');
        expect(set.kind).to.equal('whitelabel');
        expect(set.service).to.equal(service.key);
        expect(set.clientId).to.equal(service.clientId);
        expect(set.tokenUrl).to.equal(`${emu.url}/auth/realms/${service.realm}/protocol/openid-connect/token`);
        expect(await customerStatus(emu.url, set)).to.equal(200);
      });
    }

    it("returns to http://localhost:53682/ by default (rclone's registered address), or to any free port when asked", async () => {
      const seen: string[] = [];
      for (const callbackPort of [undefined, 0]) {
        await loginWithBrowser(ctx, {
          service: findService('jottacloud')!,
          timeoutMs: 20_000,
          callbackPort,
          openUrl: async (url) => {
            seen.push(new URL(url).searchParams.get('redirect_uri')!);
            expect((await browse(url)).status).to.equal(200);
          },
        });
      }
      expect(seen[0]).to.equal('http://localhost:53682/');
      expect(seen[1]).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect(seen[1]).to.not.equal('http://127.0.0.1:53682/');
    });

    it('says which port is busy when the callback port is taken', async () => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      const port = (blocker.address() as AddressInfo).port;
      const err = await loginWithBrowser(ctx, { service: findService('elko')!, timeoutMs: 5_000, callbackPort: port, openUrl: () => undefined }).then(
        () => null,
        (e: Error) => e,
      );
      blocker.close();
      expect(err).to.be.instanceOf(AuthError);
      expect(err!.message).to.include(`Port ${port} on 127.0.0.1 is in use`);
    });

    it('ignores a callback that does not carry its state, and still completes with the real one', async () => {
      const set = await loginWithBrowser(ctx, {
        service: findService('letsgo')!,
        timeoutMs: 20_000,
        openUrl: async (url) => {
          const redirect = new URL(url).searchParams.get('redirect_uri')!;
          const forged = await fetch(`${redirect}?code=forged&state=wrong`);
          expect(forged.status).to.equal(400);
          await forged.text();
          expect((await browse(url)).status).to.equal(200);
        },
      });
      expect(await customerStatus(emu.url, set)).to.equal(200);
    });

    it('reports a refusal sent back to the callback', async () => {
      const err = await loginWithBrowser(ctx, {
        service: findService('elkjop')!,
        timeoutMs: 20_000,
        openUrl: async (url) => {
          const u = new URL(url);
          const back = `${u.searchParams.get('redirect_uri')}?error=access_denied&error_description=User+said+no&state=${u.searchParams.get('state')}`;
          await (await fetch(back)).text();
        },
      }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).to.be.instanceOf(AuthError);
      expect(err!.message).to.include('access_denied: User said no');
    });

    it('stops waiting for the browser after the timeout and frees the port', async () => {
      let redirect = '';
      const err = await loginWithBrowser(ctx, {
        service: findService('telia_se')!,
        timeoutMs: 150,
        openUrl: (url) => {
          redirect = new URL(url).searchParams.get('redirect_uri')!;
        },
      }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.match(/No answer from the browser/);
      const late = await fetch(redirect).then(
        () => 'answered',
        () => 'refused',
      );
      expect(late).to.equal('refused');
    });
  });

  describe('legacy (user name and password)', () => {
    it('signs in with the default client and refuses a wrong password without echoing it', async () => {
      const set = await loginLegacy(ctx, { username: emu.user, password: emu.auth.legacyPassword });
      expect(set.kind).to.equal('legacy');
      expect(set.tokenUrl).to.equal(`${emu.url}/auth/v1/token`);
      expect(await customerStatus(emu.url, set)).to.equal(200);

      const err = await loginLegacy(ctx, { username: emu.user, password: 'hunter2-not-it' }).then(
        () => null,
        (e: Error) => e,
      );
      expect(err).to.be.instanceOf(AuthError);
      expect([400, 401]).to.include((err as AuthError).status);
      expect(err!.message).to.not.include('hunter2');
    });

    it('registers a client for this machine and signs in with it', async () => {
      const client = await registerLegacyClient(ctx);
      expect(client.clientId).to.not.equal('');
      const set = await loginLegacy(ctx, { username: emu.user, password: emu.auth.legacyPassword, client });
      expect(set.clientId).to.equal(client.clientId);
      expect(set.clientSecret).to.equal(client.clientSecret);
      expect(await customerStatus(emu.url, set)).to.equal(200);
    });

    describe('with an SMS code', () => {
      let otpServer: RunningEmulator;
      let otpCtx: AuthContext;
      before(async () => {
        otpServer = await startEmulator({ port: 0, user: 'otp-user', auth: { legacyOtp: true } });
        otpCtx = authContext(singleOriginEndpoints(otpServer.url));
      });
      after(async () => {
        await otpServer.close();
      });

      it('asks for the code the service has just sent and resends with it', async () => {
        let asked = 0;
        const set = await loginLegacy(otpCtx, {
          username: 'otp-user',
          password: otpServer.auth.legacyPassword,
          askOtp: async () => {
            asked++;
            const sms = otpServer.auth.currentOtp();
            expect(sms).to.match(/^\d{6}$/);
            return `${sms!.slice(0, 3)}-${sms!.slice(3)}`; // as the SMS shows it
          },
        });
        expect(asked).to.equal(1);
        expect(set.accessToken).to.not.equal('');
        expect(otpServer.auth.authenticate(`Bearer ${set.accessToken}`)).to.equal('otp-user');
      });

      it('without a terminal: first run says to come back with --otp, the second run with it succeeds', async () => {
        const creds = { username: 'otp-user', password: otpServer.auth.legacyPassword };
        const first = await loginLegacy(otpCtx, creds).then(
          () => null,
          (e: Error) => e,
        );
        expect(first).to.be.instanceOf(OtpRequiredError);
        expect(first!.message).to.include('--otp');
        const set = await loginLegacy(otpCtx, { ...creds, otp: otpServer.auth.currentOtp()! });
        expect(otpServer.auth.authenticate(`Bearer ${set.accessToken}`)).to.equal('otp-user');
      });

      it('a wrong code is refused, and the code is not in the message', async () => {
        const creds = { username: 'otp-user', password: otpServer.auth.legacyPassword };
        await loginLegacy(otpCtx, creds).catch(() => undefined); // sends the SMS
        const wrong = otpServer.auth.currentOtp() === '000000' ? '111111' : '000000';
        const err = await loginLegacy(otpCtx, { ...creds, otp: wrong }).then(
          () => null,
          (e: Error) => e,
        );
        expect(err).to.be.instanceOf(AuthError);
        expect(err!.message).to.not.include(wrong);
      });
    });
  });

  it('redacts credentials from any text meant for a message', () => {
    const text =
      'POST /token grant_type=password&password=s3cret&refresh_token=abc.def&code=xyz123 ' +
      '{"access_token":"eyJhbGciOi.eyJzdWIiOi.sig","otp":"123456"} Authorization: Bearer abcdefghijkl X-Jottacloud-Otp: 654321';
    const out = redactSecrets(text);
    for (const secret of ['s3cret', 'abc.def', 'xyz123', 'eyJhbGciOi', '123456', 'abcdefghijkl', '654321']) {
      expect(out).to.not.include(secret);
    }
    expect(out).to.include('grant_type=password');
  });
});
