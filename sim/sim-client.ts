import type { SimFault, SimLogEntry } from './types';

/** Small typed helpers to talk to a simulated node over HTTP (used by the sim specs; handy for other tests too). */

export type Json = Record<string, unknown>;

export function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    ...init,
    headers: { 'Content-Type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Every NDJSON line of a response, parsed. */
export async function readNdjson(res: Response): Promise<Json[]> {
  const text = await res.text();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Json);
}

/** The payloads of every `data:` line of an SSE response ('[DONE]' included, verbatim). */
export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => line.slice('data: '.length));
}

export async function setFaultOverHttp(nodeUrl: string, fault: SimFault | null): Promise<void> {
  const res = fault
    ? await postJson(`${nodeUrl}/_sim/fault`, fault)
    : await fetch(`${nodeUrl}/_sim/fault`, { method: 'DELETE' });
  if (!res.ok) throw new Error(`setting fault failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

export async function fetchSimLog(nodeUrl: string): Promise<SimLogEntry[]> {
  const res = await fetch(`${nodeUrl}/_sim/log`);
  return (await res.json()) as SimLogEntry[];
}

/** Resolves when `predicate` holds, polling every few ms; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
