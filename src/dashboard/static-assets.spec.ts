import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ASSET_TYPES, findPublicDir, loadAssets } from './static-assets';

const source = resolve(__dirname, 'public');

describe('dashboard assets', () => {
  it('are found next to the module under jest and from the compiled module in dist/', () => {
    expect(findPublicDir(__dirname)).toBe(source);
    expect(findPublicDir(resolve(__dirname, '../../dist/src/dashboard'))).toBe(source);
    expect(findPublicDir('/nonexistent/dist/src/dashboard')).toBeUndefined();
  });

  it('load with types and ETags', () => {
    const assets = loadAssets(source);
    expect([...assets.keys()].sort()).toEqual(Object.keys(ASSET_TYPES).sort());
    for (const a of assets.values()) expect(a.etag).toMatch(/^"[\w-]+"$/);
  });

  it('load nothing from elsewhere: no CDN, no external fonts', () => {
    for (const name of Object.keys(ASSET_TYPES)) {
      const text = readFileSync(join(source, name), 'utf8');
      const external = text.match(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\/[^"'\s>]+|@import|url\(\s*["']?(?:https?:)?\/\//g) ?? [];
      expect({ name, external }).toEqual({ name, external: [] });
    }
  });

  it('include every file the pages reference', () => {
    for (const page of ['index.html', 'topology.html']) {
      const referenced = [...readFileSync(join(source, page), 'utf8').matchAll(/(?:src|href)="\/dashboard\/([^"]+)"/g)].map((m) => m[1]);
      expect(referenced.length).toBeGreaterThan(0);
      for (const file of referenced) expect({ page, file, whitelisted: file in ASSET_TYPES }).toEqual({ page, file, whitelisted: true });
    }
  });
});
