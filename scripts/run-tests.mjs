// Runs the mocha suites compiled into dist/spec, prints mocha's own summary, then one plain
// closing line "N passed, N failed" (", N skipped" when some were pending) for CI to read.
import Mocha from 'mocha';
import { setTimeout } from 'node:timers';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'dist/spec');
const grep = process.env.MOCHA_GREP;

function specFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...specFiles(p));
    else if (name.endsWith('.spec.js')) out.push(p);
  }
  return out;
}

const mocha = new Mocha({ reporter: 'spec', timeout: 30_000, slow: 2_000, ...(grep ? { grep } : {}) });
for (const f of specFiles(root)) mocha.addFile(f);
await mocha.loadFilesAsync();
let passed = 0, failed = 0, skipped = 0;
const runner = mocha.run((failures) => {
  const skippedPart = skipped ? `, ${skipped} skipped` : '';
  console.log(`${passed} passed, ${failed} failed${skippedPart}`);
  process.exitCode = failures || failed ? 1 : 0;
  // Every suite closes what it opened; should one leave a handle behind anyway, the run still ends (with the
  // summary already printed) instead of holding CI until its time limit. The timer itself keeps nothing alive.
  setTimeout(() => {
    console.error('test run: handles still open 10 s after the summary; exiting');
    process.exit(process.exitCode);
  }, 10_000).unref();
});
runner.on('pass', () => passed++);
runner.on('fail', () => failed++);
runner.on('pending', () => skipped++);
