import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const DIST = resolve(__dirname, '../..');

export interface Child {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<string> {
  let out = '';
  return new Promise((resolveMatch, reject) => {
    const timer = setTimeout(() => {
      // A child that never came up is stopped, not left behind holding its ports (or its embedded redis-server).
      void stopper(child)();
      reject(new Error(`${what} did not start:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveMatch(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${out}`));
    });
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once('exit', () => r());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
}

/** Simulated Ollama nodes in a process of their own, so they do not share the load generator's event loop. */
export async function spawnSimNodes(nodes: object[]): Promise<{ urls: string[]; stop(): Promise<void> }> {
  const code = `
    const { startSimNode } = require(${JSON.stringify(join(DIST, 'sim'))});
    Promise.all(${JSON.stringify(nodes)}.map((o) => startSimNode(o))).then((ns) => {
      console.log('URLS ' + JSON.stringify(ns.map((n) => n.url)));
      process.on('SIGTERM', () => Promise.all(ns.map((n) => n.close())).then(() => process.exit(0)));
    });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  const urls = JSON.parse(await waitForLine(child, /URLS (\[.*\])/, 'simulator')) as string[];
  return { urls, stop: stopper(child) };
}

/** The built gateway as its own process; `main` picks another build (default: this checkout's dist/src/main.js). */
export async function spawnHerd(env: Record<string, string>, nodes: object[], main = join(DIST, 'src/main.js')): Promise<Child> {
  const dir = mkdtempSync(join(tmpdir(), 'herd-bench-'));
  const file = join(dir, 'containers.config.json');
  writeFileSync(file, JSON.stringify(nodes));
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', CONTAINERS_CONFIG: file, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await waitForLine(child, /"msg":"herd is listening".*?"url":"([^"]+)"/, 'herd');
  return { url, child, stop: stopper(child) };
}

/** bench/lib/bare-proxy.ts in front of one node, as its own process. */
export async function spawnBareProxy(nodeUrl: string): Promise<Child> {
  const child = spawn(process.execPath, [join(DIST, 'bench/lib/bare-proxy.js'), nodeUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForLine(child, /URL (\S+)/, 'bare proxy');
  return { url, child, stop: stopper(child) };
}

/** bench/lib/stack-floor.ts (Nest + Express + class-validator + a Redis lease, nothing else) in front of one node. */
export async function spawnStackFloor(nodeUrl: string, redisUrl: string): Promise<Child> {
  const child = spawn(process.execPath, [join(DIST, 'bench/lib/stack-floor.js'), nodeUrl, redisUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForLine(child, /URL (\S+)/, 'stack floor');
  return { url, child, stop: stopper(child) };
}

/** bench/lib/go-style-node.ts (Ollama's Go framing, `serviceMs` per answer) as its own process. */
export async function spawnGoStyleNode(serviceMs: number, tokens: number): Promise<Child> {
  const args = [join(DIST, 'bench/lib/go-style-node.js'), '--service-ms', String(serviceMs), '--tokens', String(tokens)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForLine(child, /URL (\S+)/, 'go-style node');
  return { url, child, stop: stopper(child) };
}
