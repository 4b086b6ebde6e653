// The browser page: a folder opened in a web browser shows a clean listing (breadcrumbs, sizes, dates,
// download links, quota bar) with upload and new-folder forms for users who may write, strict security
// headers, escaped names, and form posts that need the page's token. Checked over HTTP, then rendered in
// headless Chromium (DOM read back, and a screenshot kept for a person to look at).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { basicAuth, request, startStack, type TestStack } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';

const run = promisify(execFile);
const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const browserHeaders = { 'User-Agent': firefox, Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const evilName = '<b onmouseover="x()">&amp;.txt';

describe('server: browser page', function () {
  this.timeout(120_000);
  let s: TestStack;
  const reader = { name: 'reader', password: 'reader-pass-1' };

  before(async () => {
    s = await startStack({ server: { users: [{ name: reader.name, passwordHash: bcrypt.hashSync(reader.password, 8), readOnly: true }] } });
    expect((await request(s, 'MKCOL', 'Documents')).status).to.equal(201);
    expect((await request(s, 'MKCOL', 'Documents/Reports 2026')).status).to.equal(201);
    expect((await request(s, 'MKCOL', 'Photos')).status).to.equal(201);
    expect((await request(s, 'PUT', 'Documents/budget.xlsx', { body: Buffer.alloc(48_213, 1) })).status).to.equal(201);
    expect((await request(s, 'PUT', 'Documents/notes.txt', { body: 'remember the milk\n' })).status).to.equal(201);
    expect((await request(s, 'PUT', 'Documents/holiday video.mp4', { body: Buffer.alloc(3 * 1024 * 1024 + 123, 2) })).status).to.equal(201);
    expect((await request(s, 'PUT', `Documents/${encodeURIComponent(evilName)}`, { body: 'x' })).status).to.equal(201);
  });
  after(() => s?.close());

  it('shows a folder to a browser as an HTML listing with breadcrumbs, sizes, dates, download links and a quota bar', async () => {
    const r = await request(s, 'GET', 'Documents/', { headers: browserHeaders });
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    const html = r.body;
    expect(html).to.match(/<nav class="crumbs"[^>]*><a href="\/">Home<\/a><span class="sep">\/<\/span><a href="\/Documents\/">Documents<\/a><\/nav>/);
    expect(html).to.include('<a href="/Documents/Reports%202026/">Reports 2026/</a>');
    expect(html).to.include('<a href="/Documents/budget.xlsx" download="budget.xlsx">budget.xlsx</a>');
    expect(html).to.include('title="48213 bytes">47.1 KiB<');
    expect(html).to.include('>3.0 MiB<');
    expect(html).to.match(/<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>/);
    expect(html).to.match(/<meter min="0" max="\d+" value="\d+"/);
    expect(html).to.include('Parent folder');
    // Folders first, then files by name.
    expect(html.indexOf('Reports 2026/')).to.be.lessThan(html.indexOf('budget.xlsx'));
    expect(html.indexOf('budget.xlsx')).to.be.lessThan(html.indexOf('notes.txt'));
  });

  it('escapes names, and sends strict security headers (CSP with a nonce, no framing, no sniffing)', async () => {
    const r = await request(s, 'GET', 'Documents', { headers: browserHeaders });
    expect(r.status).to.equal(200);
    expect(r.body).to.not.include('<b onmouseover');
    expect(r.body).to.include('&lt;b onmouseover=&quot;x()&quot;&gt;&amp;amp;.txt');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).to.include("default-src 'none'");
    expect(csp).to.include("frame-ancestors 'none'");
    expect(csp).to.include("form-action 'self'");
    expect(csp).to.not.include('unsafe-inline');
    const nonce = /style-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).to.be.a('string');
    expect(r.body).to.include(`<style nonce="${nonce}">`);
    expect(r.body).to.not.include('<script');
    expect(r.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(r.headers.get('x-frame-options')).to.equal('DENY');
    expect(r.headers.get('referrer-policy')).to.equal('no-referrer');
    expect(r.headers.get('cache-control')).to.equal('no-store');
  });

  it('gives WebDAV clients and non-HTML requests the WebDAV answer, never the page', async () => {
    for (const ua of ['Microsoft-WebDAV-MiniRedir/10.0.19045', 'WebDAVFS/3.0.0 (03008000) Darwin/22.1.0 (arm64)', 'davfs2/1.7.0 neon/0.32.5']) {
      const r = await request(s, 'GET', 'Documents/', { headers: { 'User-Agent': ua, Accept: 'text/html, */*' } });
      expect(r.body, ua).to.not.include('<!doctype html>');
    }
    const propfind = await request(s, 'PROPFIND', 'Documents/', { headers: { ...browserHeaders, Depth: '1' } });
    expect(propfind.status).to.equal(207);
  });

  it('serves a file from a download link as the file, sandboxed so an uploaded page cannot run scripts', async () => {
    const r = await request(s, 'GET', 'Documents/notes.txt', { headers: browserHeaders });
    expect(r.status).to.equal(200);
    expect(r.body).to.equal('remember the milk\n');
    expect(r.headers.get('content-security-policy')).to.match(/sandbox/);
    expect(r.headers.get('x-content-type-options')).to.equal('nosniff');
  });

  async function token(path = 'Photos/'): Promise<string> {
    const page = await request(s, 'GET', path, { headers: browserHeaders });
    return /name="token" value="([^"]+)"/.exec(page.body)![1];
  }

  it('uploads files through the form (streamed to storage) and answers 303 back to the folder', async () => {
    const form = new FormData();
    form.append('token', await token());
    form.append('file', new Blob([Buffer.from('first photo bytes')]), 'IMG_0001.jpg');
    form.append('file', new Blob([Buffer.alloc(200_000, 9)]), 'IMG_0002.jpg');
    const res = await fetch(`${s.url}Photos/`, { method: 'POST', body: form, headers: { Authorization: s.auth, 'User-Agent': firefox }, redirect: 'manual' });
    expect(res.status).to.equal(303);
    expect(res.headers.get('location')).to.equal('/Photos/');
    expect((await request(s, 'GET', 'Photos/IMG_0001.jpg')).body).to.equal('first photo bytes');
    const second = await fetch(`${s.url}Photos/IMG_0002.jpg`, { headers: { Authorization: s.auth } });
    expect(Buffer.from(await second.arrayBuffer()).equals(Buffer.alloc(200_000, 9))).to.equal(true);
  });

  it('makes a folder through the form', async () => {
    const body = new URLSearchParams({ token: await token(), folder: 'Summer 2026' });
    const res = await fetch(`${s.url}Photos`, { method: 'POST', body, headers: { Authorization: s.auth }, redirect: 'manual' });
    expect(res.status).to.equal(303);
    expect((await request(s, 'PROPFIND', 'Photos/Summer%202026', { headers: { Depth: '0' } })).status).to.equal(207);
  });

  it('refuses form posts without the page token, with a wrong one, or from another site, creating nothing', async () => {
    const good = await token();
    const cases: [string, URLSearchParams, Record<string, string>][] = [
      ['no token', new URLSearchParams({ folder: 'forged-1' }), {}],
      ['wrong token', new URLSearchParams({ token: 'A'.repeat(good.length), folder: 'forged-2' }), {}],
      ['cross-site', new URLSearchParams({ token: good, folder: 'forged-3' }), { 'Sec-Fetch-Site': 'cross-site' }],
    ];
    for (const [what, body, headers] of cases) {
      const res = await fetch(`${s.url}Photos/`, { method: 'POST', body, headers: { Authorization: s.auth, ...headers }, redirect: 'manual' });
      expect(res.status, what).to.equal(403);
    }
    const form = new FormData();
    form.append('file', new Blob(['forged']), 'forged.txt');
    const upload = await fetch(`${s.url}Photos/`, { method: 'POST', body: form, headers: { Authorization: s.auth }, redirect: 'manual' });
    expect(upload.status).to.equal(403);
    const listing = await request(s, 'PROPFIND', 'Photos/', { headers: { Depth: '1' } });
    expect(listing.body).to.not.match(/forged/);
  });

  it('shows a read-only user no forms', async () => {
    const r = await request(s, 'GET', 'Documents/', { headers: browserHeaders, auth: basicAuth(reader.name, reader.password) });
    expect(r.status).to.equal(200);
    expect(r.body).to.include('budget.xlsx');
    expect(r.body).to.include('read-only');
    expect(r.body).to.not.include('<form');
  });

  it('renders in headless Chromium: the DOM has the listing, and a screenshot is taken', async function () {
    requireTool(this, 'chromium');
    const profile = mkdtempSync(join(tmpdir(), 'jottadav-chromium-'));
    const shot = join(tmpdir(), 'jottadav-browser-page.png');
    rmSync(shot, { force: true });
    const url = new URL(`${s.url}Documents/`);
    url.username = s.user!.name;
    url.password = s.user!.password;
    const flags = [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${profile}`, '--window-size=1100,760',
    ];
    try {
      const dom = await run('chromium', [...flags, '--dump-dom', url.href], { timeout: 60_000, maxBuffer: 8 * 1024 * 1024 });
      expect(dom.stdout).to.include('budget.xlsx');
      expect(dom.stdout).to.include('Reports 2026/');
      expect(dom.stdout).to.include('Create folder');
      await run('chromium', [...flags, `--screenshot=${shot}`, url.href], { timeout: 60_000 });
      expect(existsSync(shot)).to.equal(true);
      expect(statSync(shot).size).to.be.greaterThan(5_000);
      expect(readFileSync(shot).subarray(1, 4).toString()).to.equal('PNG');
      console.log(`      screenshot: ${shot}`);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
