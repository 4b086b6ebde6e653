// Progress of long CLI work: a redrawn bar on a terminal, plain lines (no carriage returns, no escape codes)
// when the output is a file or a pipe — both through startProgress directly and through `jottadav warm`.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { startProgress } from '../../lib/util/progress.js';

/** The escape that starts a terminal control sequence. */
const ESC = '\u001b';

function capture(isTTY: boolean): { stream: PassThrough & { isTTY?: boolean; columns?: number }; text(): string } {
  const stream = Object.assign(new PassThrough(), { isTTY, columns: 100 });
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe('progress output', () => {
  it('prints plain lines every N steps and a last one when the stream is not a terminal', () => {
    const out = capture(false);
    const p = startProgress('warm', { stream: out.stream, every: 10 });
    for (let i = 1; i <= 25; i++) p.update(i, 30 + i, `folders, ${i * 3} files`);
    p.stop('Listed 25 folder(s).');
    expect(out.text()).to.equal(
      ['warm: 1/31 folders, 3 files', 'warm: 11/41 folders, 33 files', 'warm: 21/51 folders, 63 files', 'warm: 25/55 folders, 75 files', 'Listed 25 folder(s).', ''].join('\n'),
    );
    expect(out.text()).to.not.include('\r').and.not.include(ESC);
  });

  it('draws a bar in place on a terminal', () => {
    const out = capture(true);
    const p = startProgress('warm', { stream: out.stream });
    p.update(1, 4, 'folders');
    p.update(4, 4, 'folders');
    p.stop('done');
    // cli-progress moves the cursor back and redraws (escape sequences), and shows value/total.
    expect(out.text()).to.include(`${ESC}[`);
    expect(out.text()).to.include('4/4 folders');
    expect(out.text()).to.match(/done\n$/);
  });
});
