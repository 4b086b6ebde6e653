// The dependency audit of .ci/run (issue 8): `npm audit --omit=dev`, failing on any high or critical advisory
// in what ships (dev tools are not installed by `npm ci --omit=dev`, so they are not judged here).
//
// npm's audit is a POST to the registry's advisory endpoint. Some networks (this project's build machine among
// them) let the registry's GETs through but answer that POST with 405 or not at all. Then nothing was audited, and
// the script says so in one plain line and exits 0 — unless AUDIT_REQUIRED=1, where "could not audit" fails the run
// too. It never turns an unreachable database into "no issues found".
//
// `node scripts/audit.mjs --report FILE` judges a saved `npm audit --omit=dev --json` instead (say, one made on a
// machine that reaches the database), with the same rule and output.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const FAILING = new Set(['high', 'critical']);

const reportAt = process.argv.indexOf('--report');
const run =
  reportAt > 0
    ? { stdout: readFileSync(process.argv[reportAt + 1], 'utf8'), stderr: '', status: 0 }
    : spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', timeout: 120_000 });
let report;
try {
  report = JSON.parse(run.stdout || '{}');
} catch {
  report = {};
}

const vulnerabilities = report.vulnerabilities;
if (!vulnerabilities || typeof vulnerabilities !== 'object') {
  // No report: the endpoint could not be asked. npm puts the reason in `error` (JSON) or on stderr.
  const why =
    report.error?.summary ||
    (run.stderr || '').split('\n').find((l) => /audit|ERR|405|ENOTFOUND|ECONN|timed out/i.test(l)) ||
    (run.error ? String(run.error.message) : `npm audit exited ${run.status}`);
  console.log(`audit: NOT PERFORMED — the advisory database could not be reached (${why.trim()})`);
  process.exit(process.env.AUDIT_REQUIRED === '1' ? 1 : 0);
}

const found = Object.values(vulnerabilities).filter((v) => FAILING.has(v.severity));
const counts = report.metadata?.vulnerabilities ?? {};
const summary = ['critical', 'high', 'moderate', 'low', 'info'].map((s) => `${counts[s] ?? 0} ${s}`).join(', ');
console.log(`audit: ${summary} in production dependencies`);
for (const v of found) {
  const via = (v.via ?? []).map((x) => (typeof x === 'string' ? x : `${x.title} (${x.url})`)).join('; ');
  console.log(`  ${v.severity}: ${v.name} ${v.range} — ${via}${v.fixAvailable ? ' [fix available]' : ''}`);
}
process.exit(found.length ? 1 : 0);
