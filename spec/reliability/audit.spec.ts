// The dependency audit's rule (scripts/audit.mjs, run by .ci/run): a high or critical advisory in a production
// dependency fails the run; moderate and low ones are listed but pass; an advisory database that cannot be asked is
// reported as "NOT PERFORMED", never as a clean audit. Saved reports in npm's own `--json` shape stand in for the
// database, which this machine cannot reach.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const script = join(process.cwd(), 'scripts', 'audit.mjs');

function advisory(name: string, severity: string) {
  return {
    name,
    severity,
    isDirect: true,
    via: [{ source: 1, name, dependency: name, title: `${name} advisory`, url: `https://github.com/advisories/GHSA-${name}`, severity, range: '<9.9.9' }],
    effects: [],
    range: '<9.9.9',
    nodes: [`node_modules/${name}`],
    fixAvailable: true,
  };
}

function report(vulns: Record<string, ReturnType<typeof advisory>>) {
  const count = (s: string) => Object.values(vulns).filter((v) => v.severity === s).length;
  return {
    auditReportVersion: 2,
    vulnerabilities: vulns,
    metadata: {
      vulnerabilities: { info: 0, low: count('low'), moderate: count('moderate'), high: count('high'), critical: count('critical'), total: Object.keys(vulns).length },
    },
  };
}

describe('npm audit rule (scripts/audit.mjs)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'jottadav-audit-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function judge(body: unknown) {
    const file = join(dir, `r${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
    return spawnSync(process.execPath, [script, '--report', file], { encoding: 'utf8', timeout: 30_000 });
  }

  it('fails on a high advisory and names it', () => {
    const r = judge(report({ leftpad: advisory('leftpad', 'high'), other: advisory('other', 'low') }));
    expect(r.status).to.equal(1);
    expect(r.stdout).to.contain('0 critical, 1 high, 0 moderate, 1 low');
    expect(r.stdout).to.match(/high: leftpad <9\.9\.9 — leftpad advisory \(https:\/\/github\.com\/advisories\/GHSA-leftpad\)/);
    expect(r.stdout).not.to.match(/low: other/);
  });

  it('fails on a critical advisory', () => {
    expect(judge(report({ x: advisory('x', 'critical') })).status).to.equal(1);
  });

  it('passes with moderate and low advisories only, and with none', () => {
    const some = judge(report({ a: advisory('a', 'moderate'), b: advisory('b', 'low') }));
    expect(some.status).to.equal(0);
    expect(some.stdout).to.contain('0 critical, 0 high, 1 moderate, 1 low');
    const none = judge(report({}));
    expect(none.status).to.equal(0);
    expect(none.stdout).to.contain('0 critical, 0 high, 0 moderate, 0 low, 0 info in production dependencies');
  });

  it('says NOT PERFORMED when the database answered with an error, and fails then only when the audit is required', () => {
    const failed = { error: { code: 'E405', summary: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk' } };
    const r = judge(failed);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.contain('audit: NOT PERFORMED');
    expect(r.stdout).to.contain('405 Method Not Allowed');
    expect(r.stdout).not.to.contain('in production dependencies');
    const file = join(dir, 'failed.json');
    writeFileSync(file, JSON.stringify(failed));
    const required = spawnSync(process.execPath, [script, '--report', file], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, AUDIT_REQUIRED: '1' },
    });
    expect(required.status).to.equal(1);
  });

  it('treats output that is not a report as not performed', () => {
    const r = judge('npm error something went wrong');
    expect(r.stdout).to.contain('audit: NOT PERFORMED');
  });
});
