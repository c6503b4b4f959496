import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The only files the dashboard serves, with their types: nothing else in the folder is reachable. */
export const ASSET_TYPES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
  'topology.html': 'text/html; charset=utf-8',
  'topology.js': 'text/javascript; charset=utf-8',
  'topology.css': 'text/css; charset=utf-8',
};

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * Where the page's files are. `tsc` does not copy them to dist/, so besides `./public` next to this module
 * (running from src/ under jest or ts-node) the source folder is found from the compiled module
 * (dist/src/dashboard/ → src/dashboard/public).
 */
export function publicDirCandidates(moduleDir: string): string[] {
  return [join(moduleDir, 'public'), resolve(moduleDir, '../../../src/dashboard/public')];
}

export function findPublicDir(moduleDir: string = __dirname): string | undefined {
  return publicDirCandidates(moduleDir).find((dir) => existsSync(join(dir, 'index.html')));
}

/** Reads the assets once; an ETag lets browsers revalidate cheaply. */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [name, type] of Object.entries(ASSET_TYPES)) {
    const body = readFileSync(join(dir, name));
    assets.set(name, { body, type, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"` });
  }
  return assets;
}

/** The pages load scripts, styles and data only from Herd itself. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
