import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parseAddress, normalizeHost } from './node-url-allow';

/**
 * Who may change the fleet. Two credentials, each with the same rule:
 *   - HERD_ADMIN_KEY: model admin routes and every change under /herd/nodes;
 *   - HERD_NODE_KEY: POST /herd/nodes/heartbeat only (the admin key does not open it, and the node key opens
 *     nothing else), so a credential handed to every node cannot change the fleet's admin state.
 * With the key set, the request must carry it (`Authorization: Bearer <key>`, or the X-Herd-…-Key header).
 * With the key unset, the routes are open only while Herd listens on loopback (only this machine can reach
 * them, the demo and tests); on any other address they are locked.
 */

/** granted; missing: key configured, none sent; wrong: key configured, another sent; locked: no key, not loopback. */
export type Access = 'granted' | 'missing' | 'wrong' | 'locked';

/** HOST values only this machine can reach: 127.0.0.0/8, ::1 (also IPv4-mapped), localhost. Names are not resolved. */
export function isLoopbackHost(host: string): boolean {
  const h = normalizeHost(host);
  if (h === 'localhost') return true;
  const a = parseAddress(h);
  if (!a) return false;
  return a.family === 4 ? a.value >> 24n === 127n : a.value === 1n;
}

/** Constant time whatever the inputs: both sides are hashed first, so not even the length leaks. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The credential a request carries: `Authorization: Bearer <key>`, else the named header. */
export function presentedKey(headers: IncomingHttpHeaders, header: string): string | undefined {
  const auth = headers.authorization;
  const bearer = auth && /^Bearer\s+(.+)$/i.exec(auth.trim());
  if (bearer) return bearer[1].trim();
  const value = headers[header];
  const given = Array.isArray(value) ? value[0] : value;
  return given?.trim() || undefined;
}

function access(expected: string | undefined, host: string, given: string | undefined): Access {
  if (!expected) return isLoopbackHost(host) ? 'granted' : 'locked';
  if (given === undefined) return 'missing';
  return sameSecret(given, expected) ? 'granted' : 'wrong';
}

export const ADMIN_KEY_HEADER = 'x-herd-admin-key';
export const NODE_KEY_HEADER = 'x-herd-node-key';

export function adminAccess(config: { adminKey?: string; host: string }, headers: IncomingHttpHeaders): Access {
  return access(config.adminKey, config.host, presentedKey(headers, ADMIN_KEY_HEADER));
}

export function nodeAccess(config: { nodeKey?: string; host: string }, headers: IncomingHttpHeaders): Access {
  return access(config.nodeKey, config.host, presentedKey(headers, NODE_KEY_HEADER));
}

/** What is locked because its key is unset on a non-loopback HOST; empty when nothing is. For the start-up warning. */
export function lockedRoutes(config: { adminKey?: string; nodeKey?: string; host: string }): { routes: string; key: string }[] {
  if (isLoopbackHost(config.host)) return [];
  return [
    ...(config.adminKey ? [] : [{ routes: 'admin routes (/api/pull, /api/delete, /api/copy, /api/create, /api/push, /api/blobs, changes under /herd/nodes)', key: 'HERD_ADMIN_KEY' }]),
    ...(config.nodeKey ? [] : [{ routes: 'node heartbeats (POST /herd/nodes/heartbeat)', key: 'HERD_NODE_KEY' }]),
  ];
}

/**
 * Text from a node's health shown on public views, with the node's address taken out (an error message may
 * quote it: "connect ECONNREFUSED 10.0.0.11:11434").
 */
export function withoutAddress(text: string | undefined, url: string): string | undefined {
  if (text === undefined) return undefined;
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    return text;
  }
  const hostname = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  // A bare one-word name ("sim") is left alone: replacing it would mangle ordinary words.
  const parts = [url, host, /[.:]/.test(hostname) ? hostname : ''].filter(Boolean);
  return parts.reduce((t, s) => t.split(s).join('<node>'), text);
}
