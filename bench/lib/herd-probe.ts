import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** Small HTTP reads and writes against a running Herd replica, for benches. */

export interface HerdNodeView {
  name: string;
  state: string;
  inFlight: number;
  resident: string[];
}

export async function herdNodes(url: string): Promise<HerdNodeView[]> {
  const res = await fetch(`${url}/herd/nodes`);
  return ((await res.json()) as { nodes: HerdNodeView[] }).nodes;
}

/** Polls `cond` every 50 ms; false when `timeoutMs` ran out first. */
export async function pollUntil(timeoutMs: number, cond: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `cond` every 50 ms; throws naming `what` when `timeoutMs` ran out first. */
export async function waitUntil(what: string, timeoutMs: number, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The root of this checkout (bench scripts run from dist/bench or, under ts-node, from bench). */
export function repoRoot(): string {
  for (const dir of [resolve(__dirname, '../..'), resolve(__dirname, '../../..')]) if (existsSync(resolve(dir, 'package.json'))) return dir;
  throw new Error('cannot find the repository root');
}

/** The sum of every sample of one metric family in Prometheus text (whatever its labels); 0 when absent. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

/** Requests queued plus running across the herd, as one replica's /metrics reports them. */
export async function requestsInHerd(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return metricSum(text, 'herd_queue_depth') + metricSum(text, 'herd_node_in_flight');
}

export type KeyResult = { ok: true; key: string } | { ok: false; status: number; error: string };

/** POST /herd/keys (open on loopback when no admin key is set). */
export async function createKey(url: string, tenant: string, weight: number): Promise<KeyResult> {
  const res = await fetch(`${url}/herd/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tenant, weight }) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // reported below
  }
  if (res.status === 201 && typeof body.key === 'string') return { ok: true, key: body.key };
  const error = typeof body.error === 'string' ? body.error : text.slice(0, 200);
  return { ok: false, status: res.status, error };
}
