// Hidden `tmp` uploads that a failed clean-up left on the service (a crash between upload and delete, the service
// failing the delete as well) are removed when their folder is listed once they are older than a day
// (StorageOptions.staleUploadMs); younger ones — maybe an upload still under way elsewhere — are left alone.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hiddenName } from '../../lib/storage/entries.js';
import { openStorage, type JottacloudStorage } from '../../lib/storage/provider.js';
import { startHarness, type Harness } from './harness.js';

describe('storage: leftover temporary uploads', function () {
  this.timeout(30_000);
  let h: Harness;
  let dir: string;
  const opened: JottacloudStorage[] = [];
  const leftover = hiddenName('tmp', 'report.txt');

  before(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'jottadav-leftovers-'));
    await h.client.mkdir('d');
    for (const name of [leftover, 'report.txt']) {
      const data = Buffer.from(`content of ${name}`);
      await h.client.upload(['d', name], { size: data.length, md5: createHash('md5').update(data).digest('hex'), body: data });
    }
  });
  after(async () => {
    for (const s of opened) await s.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function storage(staleUploadMs?: number): Promise<JottacloudStorage> {
    const s = await openStorage({ client: h.client, config: { spoolDir: join(dir, `spool-${opened.length}`) }, ...(staleUploadMs === undefined ? {} : { staleUploadMs }) });
    opened.push(s);
    return s;
  }
  const onService = async () => (await h.client.list('d')).files.map((f) => f.name).sort();

  it('keeps a young one (it may be an upload under way) and never shows it', async () => {
    const s = await storage();
    expect((await s.list('/d')).map((e) => e.name)).to.deep.equal(['report.txt']);
    await new Promise((r) => setTimeout(r, 300));
    expect(await onService()).to.include(leftover);
  });

  it('deletes one older than staleUploadMs at the listing of its folder, and leaves the real file', async () => {
    const s = await storage(1);
    await new Promise((r) => setTimeout(r, 1100)); // the service's times are whole seconds
    expect((await s.list('/d')).map((e) => e.name)).to.deep.equal(['report.txt']);
    let names = await onService();
    for (let i = 0; i < 50 && names.includes(leftover); i++) {
      await new Promise((r) => setTimeout(r, 100));
      names = await onService();
    }
    expect(names).to.deep.equal(['report.txt']);
    expect(await (await storage()).list('/d')).to.have.length(1);
  });
});
