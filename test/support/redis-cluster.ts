import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from '../../src/redis/embedded-redis';

export interface RedisClusterHandle {
  nodes: { host: string; port: number }[];
  /** `host:port,host:port` as REDIS_CLUSTER_NODES takes it. */
  env: string;
  /** Index in `nodes` of the master that serves a hash slot. */
  masterOf(slot: number): number;
  stop(): Promise<void>;
}

const SLOTS = 16384;

/**
 * A real Redis Cluster of three masters (no replicas) from redis-server processes on free loopback ports,
 * formed with CLUSTER ADDSLOTSRANGE and CLUSTER MEET (no redis-cli needed).
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'herd-cluster-'));
  const children: ChildProcess[] = [];
  const admins: Redis[] = [];
  const stop = async (): Promise<void> => {
    for (const a of admins) a.disconnect();
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await Promise.race([exited, sleep(3000, undefined, { ref: false })]);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < masters; i++) {
      let port = await freePort();
      // The cluster bus listens on port + 10000: both must be free, and distinct from the other nodes'.
      while (port > 55535 || ports.includes(port)) port = await freePort();
      ports.push(port);
      const child = spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir, '--loglevel', 'warning',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
    }
    await Promise.all(ports.map((port, i) => acceptsConnections(port, children[i])));
    for (const port of ports) {
      const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
      admin.on('error', () => undefined);
      admins.push(admin);
    }
    await Promise.all(admins.map((a) => a.connect()));
    const per = Math.ceil(SLOTS / masters);
    await Promise.all(admins.map((a, i) => a.call('CLUSTER', 'ADDSLOTSRANGE', String(i * per), String(Math.min(SLOTS, (i + 1) * per) - 1))));
    for (const port of ports.slice(1)) await admins[0].call('CLUSTER', 'MEET', '127.0.0.1', String(port));

    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO') as Promise<string>));
      const ok = infos.every((info) => /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(info) && /cluster_slots_ok:16384/.test(info));
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`redis cluster did not form within 20 s:\n${infos.join('\n---\n')}`);
      await sleep(50);
    }
    for (const a of admins) a.disconnect();
    admins.length = 0;
    const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
    return { nodes, env: nodes.map((n) => `${n.host}:${n.port}`).join(','), masterOf: (slot) => Math.floor(slot / per), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function acceptsConnections(port: number, child: ChildProcess): Promise<void> {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 5000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited at start (code ${child.exitCode}): ${output.trim()}`);
    const ok = await new Promise<boolean>((r) => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        r(true);
      });
      sock.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not accept connections on ${port} within 5 s: ${output.trim()}`);
    await sleep(20);
  }
}
