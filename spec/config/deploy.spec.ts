// The deployment files: the Dockerfile passes a Dockerfile linter (dockerfile-utils; no hadolint binary comes
// from npm or Debian) and keeps the properties the README promises; the systemd unit passes systemd's own check.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { hasTool, repoRoot } from '../helpers/tools.js';

describe('deployment files', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');

  it('the Dockerfile lints clean', () => {
    const problems = validate(dockerfile).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).to.deep.equal([]);
  });

  it('the Dockerfile is multi-stage, runs as a non-root user, has volumes and a HEALTHCHECK on /healthz', () => {
    expect(dockerfile.match(/^FROM /gm)).to.have.length(2);
    const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
    expect(users.at(-1)).to.not.be.oneOf([undefined, 'root', '0']);
    expect(dockerfile).to.match(/^VOLUME \[.*"\/config".*"\/spool".*\]$/m);
    expect(dockerfile).to.match(/^HEALTHCHECK [\s\S]*\/healthz/m);
    expect(dockerfile).to.match(/JOTTADAV_STORAGE__SPOOL_DIR=\/spool/);
  });

  it('the systemd unit passes systemd-analyze verify', function () {
    if (!hasTool('systemd-analyze')) {
      console.log('      skipped: systemd-analyze is not installed (Debian package systemd)');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'jottadav-unit-'));
    const unit = join(dir, 'jottadav.service');
    copyFileSync(join(repoRoot, 'deploy', 'jottadav.service'), unit);
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 30_000 });
    // verify exits 0 even for unknown keys or bad values; it reports them on stderr, which must stay empty.
    // (A missing ExecStart binary is the one thing it may rightly report on a machine without /usr/bin/node.)
    const lines = (r.stderr + r.stdout).split('\n').filter((l) => l.trim() && !/Command \/usr\/bin\/node is not executable/.test(l));
    expect(lines).to.deep.equal([]);
  });
});
