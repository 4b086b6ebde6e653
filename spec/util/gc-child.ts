// Child of gc.spec.ts: receives a body over HTTP the way the spool does (every chunk counted with
// bodyBytesSeen), with or without paceCollections() (argv[2] === 'paced'), and prints the collections that ran.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { bodyBytesSeen, paceCollections } from '../../lib/util/gc.js';

const size = Number(process.env.BYTES ?? 256 * 1024 * 1024);
if (process.argv[2] === 'paced') paceCollections();
const seen = { minor: 0, major: 0, forcedMinor: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const detail = (e as { detail?: { kind?: number; flags?: number } }).detail;
    if (detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) seen.major++;
    if (detail?.kind !== constants.NODE_PERFORMANCE_GC_MINOR) continue;
    seen.minor++;
    if ((detail.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) seen.forcedMinor++;
  }
}).observe({ entryTypes: ['gc'] });

const server = http.createServer((req, res) => {
  void (async () => {
    let n = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      n += chunk.length;
      bodyBytesSeen(chunk.length);
    }
    res.end(String(n));
  })();
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const block = Buffer.alloc(1024 * 1024, 7);
const received = await new Promise<string>((resolve, reject) => {
  const port = (server.address() as AddressInfo).port;
  const req = http.request({ port, host: '127.0.0.1', method: 'PUT', headers: { 'Content-Length': size } }, (res) => {
    let text = '';
    res.on('data', (d: Buffer) => (text += d.toString()));
    res.on('end', () => resolve(text));
  });
  req.on('error', reject);
  let sent = 0;
  const write = (): void => {
    while (sent < size) {
      sent += block.length;
      if (!req.write(block)) {
        req.once('drain', write);
        return;
      }
    }
    req.end();
  };
  write();
});
// Entries are delivered asynchronously: let the last ones arrive.
await new Promise((r) => setTimeout(r, 100));
server.close();
console.log(JSON.stringify({ received: Number(received), ...seen }));
