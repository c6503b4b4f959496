import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

/**
 * The thinnest Node.js proxy there is: read the body, check it is JSON, forward it to the node with undici,
 * copy the answer back. No queue, no Redis, no framework. bench:overhead runs it beside Herd as the ceiling
 * any Node.js gateway can reach on this machine: its own cost is the floor under Herd's.
 * Usage: node dist/bench/lib/bare-proxy.js <node url>   (prints "URL <its own url>")
 */
function main(): void {
  const pool = new Pool(process.argv[2], { connections: 256, pipelining: 1 });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      try {
        JSON.parse(body.toString('utf8'));
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid JSON"}');
        return;
      }
      pool
        .request({ method: 'POST', path: req.url ?? '/', body, headers: { 'content-type': 'application/json' } })
        .then(async (up) => {
          res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
          for await (const chunk of up.body) res.write(chunk);
          res.end();
        })
        .catch((err: Error) => res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err.message })));
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`URL http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

main();
