// The raw loopback server of the benchmark, run as its own process: `GET /?bytes=N` sends N bytes from one reused
// buffer, `PUT /` swallows the body. No disk, no hashing, no parsing — the ceiling for moving HTTP bodies on this
// machine, against which every other transfer figure can be read.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const CHUNK = Buffer.alloc(1024 * 1024, 0x5a);

const server = http.createServer((req, res) => {
  if (req.method === 'PUT' || req.method === 'POST') {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      res.writeHead(204, { 'X-Bytes': String(bytes) });
      res.end();
    });
    return;
  }
  const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('bytes') ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) {
    res.writeHead(400);
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Length': n, 'Content-Type': 'application/octet-stream' });
  let left = n;
  const pump = () => {
    while (left > 0) {
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
});
server.requestTimeout = 0;
server.listen(0, '127.0.0.1', () => {
  console.log(`loopback listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
