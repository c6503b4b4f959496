import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, startTestHerd, waitFor } from './support/herd';
import { startRedis } from './support/redis';

/**
 * The dashboard in a real headless Chromium, against an in-process Herd and simulated nodes running in real
 * time with traffic going through. Chromium is required: CI installs it (.ci/run), so a missing browser is
 * a failure, never a skip.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN_KEY = 'test-admin-key';
// The README's screenshots are committed in test/artifacts; a run refreshes them only when asked
// (UPDATE_SCREENSHOTS=1), so an ordinary test run leaves the checkout clean.
const ARTIFACTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(__dirname, 'artifacts') : join(tmpdir(), 'herd-dashboard-screenshots');

jest.setTimeout(20_000);

let redis: EmbeddedRedis | undefined;
let herd: RunningHerd | undefined;
let browser: Browser | undefined;
let page: Page;
const sims: SimNode[] = [];
const pageErrors: string[] = [];
let traffic: { stop(): Promise<void>; startedAt: number; sent: () => number } | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}. The dashboard tests drive a real browser: install it with "apt-get install -y chromium" (CI does this in .ci/run), or set CHROMIUM_PATH.`);
  }
  const launching = chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  redis = await startRedis();
  sims.push(
    await startSimNode({ name: 'gpu-1', models: [{ name: 'llama3:latest' }, { name: 'qwen2.5:7b' }], resident: ['llama3:latest', 'qwen2.5:7b'], slots: 4, decodeTps: 120 }),
    await startSimNode({ name: 'gpu-2', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], slots: 2, decodeTps: 60 }),
    await startSimNode({ name: 'mini-1', models: [{ name: 'llama3:latest' }, { name: 'phi3:mini' }], resident: ['llama3:latest'], slots: 1, decodeTps: 25 }),
  );
  herd = await startTestHerd({
    redisUrl: redis.url,
    adminKey: ADMIN_KEY,
    nodes: [nodeConfig('gpu-1', sims[0].url, { slots: 4 }), nodeConfig('gpu-2', sims[1].url, { slots: 2 }), nodeConfig('mini-1', sims[2].url, { slots: 1 })],
  });
  traffic = startTraffic(herd.url);
  browser = await launching;
  page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, colorScheme: 'light' });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('dialog', (dialog) => void dialog.accept());
});

afterAll(async () => {
  await traffic?.stop();
  await browser?.close();
  await herd?.close(0);
  for (const s of sims) await s.close();
  await redis?.stop();
});

/** Clients of every priority, streamed and not, so the charts, queue and table have something to show. */
function startTraffic(url: string, workers = 10): { stop(): Promise<void>; startedAt: number; sent: () => number } {
  let stopped = false;
  let sent = 0;
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped) {
      sent++;
      const body = {
        model: rand() < 0.8 ? 'llama3' : 'qwen2.5:7b',
        prompt: `traffic ${sent}`,
        stream: rand() < 0.5,
        priority: 1 + Math.floor(rand() * 10),
        options: { num_predict: 8 + Math.floor(rand() * 40) },
      };
      await fetch(`${url}/api/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
    }
  });
  return {
    startedAt: Date.now(),
    sent: () => sent,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

const card = (name: string) => page.locator(`article.node[data-node="${name}"]`);

async function apiNode(name: string): Promise<{ state: string; draining?: boolean } | undefined> {
  const res = await fetch(`${herd!.url}/herd/nodes`);
  const body = (await res.json()) as { nodes: { name: string; state: string; draining?: boolean }[] };
  return body.nodes.find((n) => n.name === name);
}

describe('dashboard at /dashboard', () => {
  it('leaves / to Ollama and serves the page with its own assets', async () => {
    expect(await (await fetch(`${herd!.url}/`)).text()).toBe('Ollama is running');
    const res = await page.goto(`${herd!.url}/dashboard`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");
    await expect(page.title()).resolves.toContain('Herd');
  });

  it('lists the simulated nodes with live state, models, slots and learned rates', async () => {
    await waitFor(async () => (await page.locator('article.node').count()) === 3, 5000, 'three node cards');
    expect(await page.locator('article.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')))).toEqual(['gpu-1', 'gpu-2', 'mini-1']); // by name
    for (const name of ['gpu-1', 'gpu-2', 'mini-1']) await expect(card(name).locator('.pill').textContent()).resolves.toBe('healthy');
    await expect(card('gpu-1').locator('.model-name').allTextContents()).resolves.toEqual(['llama3:latest', 'qwen2.5:7b']);
    await expect(card('mini-1').locator('.slots-text').textContent()).resolves.toMatch(/^\d \/ 1 in use$/);
    await expect(page.locator('#t-nodes').textContent()).resolves.toBe('3 / 3');
    // No admin key entered yet: the page gets the public view, node names and states without their addresses
    // (before issue #10 every visitor saw each node's URL here).
    const html = await page.content();
    for (const s of sims) expect(html).not.toContain(new URL(s.url).host);
    // Live: traffic shows up in the recent requests and the nodes learn their decode rates.
    await page.locator('#recent tr', { hasText: 'llama3:latest' }).first().waitFor({ timeout: 8000 });
    await card('gpu-1').locator('.model-rate.learned', { hasText: 'tok/s' }).first().waitFor({ timeout: 8000 });
    await expect(page.locator('#live').getAttribute('class')).resolves.toContain('ok');
  });

  it('drains and undrains a node from the page with the admin key, and the API agrees', async () => {
    // Without the key the API refuses and the page says why.
    await page.fill('#admin-key', '');
    await card('gpu-2').locator('button[data-action="drain"]').click();
    await page.locator('#toast.error', { hasText: 'Admin key required' }).waitFor({ timeout: 5000 });
    expect((await apiNode('gpu-2'))?.draining).toBeFalsy();

    await page.fill('#admin-key', ADMIN_KEY);
    // With the key the page polls the full view, node URLs included.
    await card('gpu-1').locator('.node-url', { hasText: new URL(sims[0].url).host }).waitFor({ timeout: 5000 });
    await card('gpu-2').locator('button[data-action="drain"]').click();
    await card('gpu-2').locator('.pill', { hasText: 'draining' }).waitFor({ timeout: 5000 });
    expect(await apiNode('gpu-2')).toMatchObject({ state: 'draining', draining: true });
    expect(await page.evaluate('localStorage.getItem("herd.adminKey")')).toBe(ADMIN_KEY); // kept for the next visit

    // The README screenshot: a few seconds of real traffic, one node draining and one down.
    await sims[2].stop();
    await card('mini-1').locator('.pill', { hasText: 'down' }).waitFor({ timeout: 5000 });
    await card('mini-1').locator('.node-error').waitFor({ state: 'visible', timeout: 3000 });
    await new Promise((r) => setTimeout(r, Math.max(0, traffic!.startedAt + 7000 - Date.now())));
    const lastUpdate = await page.textContent('#live-text');
    await waitFor(async () => (await page.textContent('#live-text')) !== lastUpdate, 3000, 'one more poll'); // fresh numbers
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: shot });
    expect(statSync(shot).size).toBeLessThan(400_000);
    await sims[2].start();

    await card('gpu-2').locator('button[data-action="undrain"]').click();
    await card('gpu-2').locator('.pill', { hasText: 'healthy' }).waitFor({ timeout: 5000 });
    expect(await apiNode('gpu-2')).toMatchObject({ state: 'healthy', draining: false });
  });

  it('adds a node and removes it again from the page', async () => {
    const extra = await startSimNode({ name: 'gpu-3', models: [{ name: 'llama3:latest' }], resident: [], slots: 2, timeScale: 0 });
    sims.push(extra);
    await page.click('#add-toggle');
    await page.fill('#add-node input[name="name"]', 'gpu-3');
    await page.fill('#add-node input[name="url"]', extra.url);
    await page.fill('#add-node input[name="slots"]', '2');
    await page.click('#add-node button[type="submit"]');
    await card('gpu-3').locator('.pill', { hasText: 'healthy' }).waitFor({ timeout: 5000 });
    expect(await apiNode('gpu-3')).toMatchObject({ state: 'healthy' });

    await card('gpu-3').locator('button[data-action="remove"]').click(); // confirm() is accepted
    await card('gpu-3').waitFor({ state: 'detached', timeout: 5000 });
    expect(await apiNode('gpu-3')).toBeUndefined();
  });
});

describe('tenants view and API keys', () => {
  it('shows each tenant served with its share of service against its weight', async () => {
    const ask = (tenant: string, n: number) =>
      fetch(`${herd!.url}/api/generate`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-herd-tenant': tenant }, body: JSON.stringify({ model: 'llama3', prompt: `${tenant} ${n}`, stream: false, priority: 1, options: { num_predict: 6 } }) }).then((r) => {
        expect(r.status).toBe(200);
        return r.arrayBuffer();
      });
    await Promise.all([ask('team-a', 1), ask('team-a', 2), ask('team-a', 3), ask('team-b', 1), ask('team-b', 2)]);

    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('#tab-tenants');
    expect(await page.isVisible('#view-tenants')).toBe(true);
    const row = (tenant: string) => page.locator(`#tenants tr[data-tenant="${tenant}"]`);
    await row('team-a').waitFor({ timeout: 8000 });
    await row('team-b').waitFor({ timeout: 8000 });
    await expect(row('team-a').locator('td').nth(1).textContent()).resolves.toBe('3');
    await expect(row('team-b').locator('td').nth(1).textContent()).resolves.toBe('2');
    // Share of service against share by weight (every tenant weighs 1 with keys off).
    await expect(row('team-b').locator('.share-text').textContent()).resolves.toMatch(/^\d+ % \/ \d+ %$/);
    expect(await page.locator('#tenants tr[data-tenant]').count()).toBeGreaterThanOrEqual(2);
    await page.screenshot({ path: join(ARTIFACTS, 'tenants.png') });
  });

  it('creates an API key, shows it once, lists it and revokes it', async () => {
    await page.click('#key-toggle');
    await page.fill('#new-key input[name="tenant"]', 'team-c');
    await page.fill('#new-key input[name="weight"]', '2');
    await page.fill('#new-key input[name="models"]', 'llama3*, qwen2.5:7b');
    await page.fill('#new-key input[name="rpm"]', '60');
    await page.click('#new-key button[type="submit"]');
    await page.locator('#key-created').waitFor({ state: 'visible', timeout: 5000 });
    const plain = await page.inputValue('#key-plain');
    expect(plain).toMatch(/^herd_[A-Za-z0-9_-]{43}$/);

    const keyRow = page.locator('#keys tr[data-key-id]', { hasText: 'team-c' });
    await keyRow.waitFor({ timeout: 5000 });
    await expect(keyRow.getAttribute('data-status')).resolves.toBe('active');
    await expect(keyRow.locator('.model-cell').textContent()).resolves.toBe('llama3*, qwen2.5:7b');
    // The list never holds the plain key, and neither does the page once it is dismissed.
    const listed = await (await fetch(`${herd!.url}/herd/keys`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();
    expect(listed).toContain('team-c');
    expect(listed).not.toContain(plain);
    await page.click('#key-done');
    expect(await page.content()).not.toContain(plain);

    await keyRow.locator('button[data-action="revoke"]').click(); // confirm() is accepted
    await page.locator('#keys tr[data-status="revoked"]', { hasText: 'team-c' }).waitFor({ timeout: 5000 });
  });
});

describe('topology at /topology', () => {
  it('draws Herd, every node and model, and traffic on the edges, with no page error', async () => {
    const topo = await browser!.newPage({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, colorScheme: 'light' });
    const errors: string[] = [];
    topo.on('pageerror', (err) => {
      errors.push(err.message);
      pageErrors.push(`topology: ${err.message}`);
    });
    try {
      const res = await topo.goto(`${herd!.url}/topology`);
      expect(res?.status()).toBe(200);
      expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");
      await topo.locator('g.herd').waitFor({ timeout: 5000 });
      const expected: Record<string, string[]> = { 'gpu-1': ['llama3:latest', 'qwen2.5:7b'], 'gpu-2': ['llama3:latest'], 'mini-1': ['llama3:latest', 'phi3:mini'] };
      // mini-1 was stopped and started again above: its models come back with its next health poll.
      await topo.locator('g.model[data-node="mini-1"][data-model="phi3:mini"]').waitFor({ timeout: 8000 });
      expect(await topo.locator('g.node').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')))).toEqual(Object.keys(expected));
      for (const [node, models] of Object.entries(expected)) {
        const drawn = await topo.locator(`g.model[data-node="${node}"]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-model')));
        expect({ node, drawn }).toEqual({ node, drawn: models });
        expect(await topo.locator(`line.edge-node[data-node="${node}"]`).count()).toBe(1);
      }
      // The traffic generator keeps requests coming: the edges to the nodes serving them count and widen.
      await topo.locator('line.edge-node.busy[data-requests]:not([data-requests="0"])').first().waitFor({ state: 'attached', timeout: 8000 });
      await topo.locator('line.edge-model[data-model="llama3:latest"][data-requests]:not([data-requests="0"])').first().waitFor({ state: 'attached', timeout: 8000 });
      const widths = await topo.locator('line.edge-node').evaluateAll((els) => els.map((e) => Number(e.getAttribute('stroke-width'))));
      expect(Math.max(...widths)).toBeGreaterThan(2);
      await expect(topo.locator('#live').getAttribute('class')).resolves.toContain('ok');
      mkdirSync(ARTIFACTS, { recursive: true });
      const shot = join(ARTIFACTS, 'topology.png');
      await topo.screenshot({ path: shot });
      expect(statSync(shot).size).toBeLessThan(400_000);
      expect(errors).toEqual([]);
    } finally {
      await topo.close();
    }
  });
});

describe('prompt console', () => {
  beforeAll(async () => {
    await traffic?.stop(); // the console's request should not wait behind the load
  });

  it('streams an answer token by token and shows the node and timings', async () => {
    await page.click('#tab-console');
    await page.locator('#c-model option[value="llama3:latest"]').waitFor({ state: 'attached', timeout: 5000 });
    await page.selectOption('#c-model', 'llama3:latest');
    await page.selectOption('#c-priority', '1');
    await page.fill('#c-max', '60');
    await page.fill('#c-prompt', 'Why do llamas live in herds?');
    expect(await page.isChecked('#c-stream')).toBe(true);
    await page.click('#c-send');

    // Sample the answer while it arrives: it must grow in several steps, not appear at once.
    const lengths: number[] = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      lengths.push(((await page.textContent('#c-output')) ?? '').length);
      if ((await page.textContent('#c-status')) === 'done') break;
      await page.waitForTimeout(40);
    }
    expect(await page.textContent('#c-status')).toBe('done');
    const steps = new Set(lengths.filter((n) => n > 0));
    expect(steps.size).toBeGreaterThanOrEqual(4);
    expect(lengths).toEqual([...lengths].sort((a, b) => a - b)); // only ever grows

    expect(['gpu-1', 'gpu-2', 'mini-1']).toContain(await page.textContent('#m-node'));
    expect(await page.textContent('#m-tokens')).toBe('60');
    expect(await page.textContent('#m-speed')).toMatch(/tok\/s$/);
    expect(await page.textContent('#m-queue')).toMatch(/ms|s$/);
    expect(await page.textContent('#m-id')).toMatch(/^[0-9a-f-]{36}$/);
    await page.screenshot({ path: join(ARTIFACTS, 'console.png') });
  });

  it('raised no error in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
