// litmus (Debian's, 0.13) against `jottadav serve` over the embedded emulator: every default suite run on
// its own, the pass count per suite printed, the server's PID checked alive after each suite, and the
// whole round run twice (the second round starts from what the first left behind). Target and
// expectation: 100 % with no warnings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { requireTool } from '../helpers/tools.js';
import { runTool, startServe, type ServeProcess } from './webdav-client-serve.js';

const SUITES = ['basic', 'copymove', 'props', 'locks', 'http'] as const;

interface SuiteResult {
  run: number;
  passed: number;
  failed: number;
  warnings: string[];
  failures: string[];
  output: string;
}

async function runLitmus(url: string, user: string, pass: string, suite: string, cwd: string): Promise<SuiteResult> {
  const { out } = await runTool('litmus', [url, user, pass], { cwd, env: { PATH: process.env.PATH, TESTS: suite }, timeoutMs: 240_000 });
  const m = /summary for `[^']+': of (\d+) tests run: (\d+) passed, (\d+) failed/.exec(out);
  return {
    run: m ? Number(m[1]) : 0,
    passed: m ? Number(m[2]) : 0,
    failed: m ? Number(m[3]) : 0,
    warnings: out.split('\n').filter((l) => /WARNING/.test(l)),
    failures: out.split('\n').filter((l) => /FAIL/.test(l)),
    output: out,
  };
}

describe('interop: litmus against jottadav serve', function () {
  this.timeout(600_000);
  let serve: ServeProcess;
  let cwd: string;

  before(async function () {
    requireTool(this, 'litmus', 'litmus', '--version');
    serve = await startServe();
    cwd = mkdtempSync(join(tmpdir(), 'jottadav-litmus-'));
  });
  after(async () => {
    await serve?.close();
    if (cwd) rmSync(cwd, { recursive: true, force: true });
  });

  for (const round of [1, 2]) {
    for (const suite of SUITES) {
      it(`round ${round}: ${suite} passes every test and the server stays up`, async () => {
        const r = await runLitmus(serve.url, serve.user, serve.pass, suite, cwd);
        console.log(`      litmus ${suite}: ${r.passed}/${r.run} passed${r.warnings.length ? `, ${r.warnings.length} warning(s)` : ''}`);
        expect(serve.alive(), `server PID ${serve.pid} died during ${suite}:\n${serve.output().slice(-2000)}`).to.equal(true);
        expect(r.run, r.output).to.be.greaterThan(0);
        expect(r.failures, r.output).to.deep.equal([]);
        expect(r.failed).to.equal(0);
        expect(r.passed).to.equal(r.run);
        expect(r.warnings, r.output).to.deep.equal([]);
      });
    }
  }
});
