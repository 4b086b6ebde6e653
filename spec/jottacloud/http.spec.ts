// The transport's connection reuse: idle connections are closed before the server's announced keep-alive limit
// (Node's agent ignores that hint unless it has a timeout of its own), and `retireIdleConnections` closes the ones
// of one host that sat idle, leaving fresh ones and other hosts' alone.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpClient, retireIdleConnections } from '../../lib/jottacloud/index.js';

async function server(keepAliveMs: number): Promise<{ url: string; open: () => number; close: () => Promise<void> }> {
  const s = http.createServer((req, res) => {
    setTimeout(() => res.end('ok'), Number(new URL(req.url ?? '/', 'http://x').searchParams.get('wait') ?? 0));
  });
  s.keepAliveTimeout = keepAliveMs;
  let open = 0;
  s.on('connection', (socket) => {
    open++;
    socket.on('close', () => open--);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    open: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('jottacloud http transport', () => {
  it('closes an idle connection a second before the keep-alive limit the server announces', async () => {
    const srv = await server(3500); // announces "Keep-Alive: timeout=3"
    try {
      const client = createHttpClient();
      expect((await client.get(`${srv.url}/`)).data).to.equal('ok');
      expect(srv.open(), 'kept alive after the answer').to.equal(1);
      await sleep(2600);
      expect(srv.open(), 'closed by the client after ~2 s idle, before the server would at 3.5 s').to.equal(0);
    } finally {
      await srv.close();
    }
  });

  it('retireIdleConnections closes the connections of one host idle that long, and no others', async () => {
    const srv = await server(30_000);
    const other = await server(30_000);
    try {
      const client = createHttpClient();
      await Promise.all([1, 2, 3].map(() => client.get(`${srv.url}/?wait=50`)));
      await client.get(`${other.url}/`);
      expect([srv.open(), other.open()]).to.deep.equal([3, 1]);
      await sleep(300);
      await client.get(`${srv.url}/`); // one of the three is used again: fresh
      expect(retireIdleConnections(client, `${srv.url}/upload`, 250)).to.equal(2);
      await sleep(50);
      expect([srv.open(), other.open()]).to.deep.equal([1, 1]);
      // The one left is reused: no new connection.
      await client.get(`${srv.url}/`);
      expect(srv.open()).to.equal(1);
    } finally {
      await srv.close();
      await other.close();
    }
  });
});
