// Herd dashboard and prompt console. Vanilla JS, no dependencies: everything comes from Herd itself.
// Data: GET /herd/dashboard every 2 s (paused while the tab is hidden); node changes through the admin API;
// the console calls POST /api/generate like any Ollama client.
(() => {
  'use strict';

  const POLL_MS = 2000;
  const KEY_STORAGE = 'herd.adminKey';
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const STATES = ['healthy', 'degraded', 'down', 'draining'];

  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- DOM helpers

  /** Element with attributes and children; text always goes in as text (names and errors come from the network). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  function svg(tag, attrs, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k === 'className' ? 'class' : k, v === true ? '' : String(v));
    }
  }

  function setText(el, text) {
    const t = text === null || text === undefined ? '' : String(text);
    if (el.textContent !== t) el.textContent = t;
  }

  // ---------------------------------------------------------------- formatting

  const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const nf1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const nf2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

  function fmtMs(ms) {
    if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
    if (ms < 1) return '<1 ms';
    if (ms < 1000) return `${nf0.format(ms)} ms`;
    if (ms < 10_000) return `${nf2.format(ms / 1000)} s`;
    if (ms < 60_000) return `${nf1.format(ms / 1000)} s`;
    const m = Math.floor(ms / 60_000);
    const s = Math.round((ms % 60_000) / 1000);
    return `${m}m ${String(s).padStart(2, '0')}s`;
  }

  function fmtRate(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '–';
    if (v === 0) return '0';
    if (v < 10) return nf2.format(v);
    if (v < 100) return nf1.format(v);
    return nf0.format(v);
  }

  function fmtTokens(n) {
    if (n === null || n === undefined) return '–';
    if (n < 10_000) return nf0.format(n);
    if (n < 1_000_000) return `${nf1.format(n / 1000)}k`;
    return `${nf1.format(n / 1_000_000)}M`;
  }

  function fmtClock(ms) {
    return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
  }

  function fmtAgo(ms, now) {
    const s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return `${s}s ago`;
    return `${Math.floor(s / 60)}m ago`;
  }

  // ---------------------------------------------------------------- admin key, toasts, banner

  const keyInput = $('admin-key');
  keyInput.value = localStorage.getItem(KEY_STORAGE) || '';
  keyInput.addEventListener('input', () => {
    const v = keyInput.value.trim();
    if (v) localStorage.setItem(KEY_STORAGE, v);
    else localStorage.removeItem(KEY_STORAGE);
  });

  function adminHeaders() {
    const key = keyInput.value.trim();
    const headers = { 'content-type': 'application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    return headers;
  }

  let toastTimer;
  function toast(message, isError) {
    const el = $('toast');
    el.textContent = message;
    el.className = isError ? 'toast error' : 'toast';
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (el.hidden = true), isError ? 6000 : 3000);
  }

  function banner(message) {
    const el = $('banner');
    el.hidden = !message;
    setText(el, message || '');
  }

  async function errorText(res) {
    const text = await res.text().catch(() => '');
    try {
      const body = JSON.parse(text);
      if (typeof body.error === 'string') return body.error;
      if (body.error && typeof body.error.message === 'string') return body.error.message;
    } catch {
      // not JSON
    }
    return text.slice(0, 200) || `HTTP ${res.status}`;
  }

  async function admin(method, path, body) {
    const res = await fetch(path, { method, headers: adminHeaders(), body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) throw new Error('Admin key required: enter it at the top right.');
    if (!res.ok) throw new Error(await errorText(res));
    return res.json().catch(() => ({}));
  }

  // ---------------------------------------------------------------- tabs

  const VIEWS = ['fleet', 'tenants', 'console'];

  function showView() {
    const asked = location.hash.slice(1);
    const view = VIEWS.includes(asked) ? asked : 'fleet';
    for (const v of VIEWS) {
      $(`view-${v}`).hidden = v !== view;
      $(`tab-${v}`).classList.toggle('active', v === view);
      $(`tab-${v}`).setAttribute('aria-selected', String(v === view));
    }
    if (view === 'console') loadModels();
    if (view === 'tenants') loadKeys();
    if (view === 'fleet' && last) renderCharts(last);
  }
  window.addEventListener('hashchange', showView);

  // ---------------------------------------------------------------- polling

  let last = null;
  let timer;
  let inflight = false;

  async function refresh() {
    if (inflight) return;
    inflight = true;
    clearTimeout(timer);
    try {
      // With the admin key entered the view includes node URLs; without it (or with a wrong one), names and states only.
      const key = keyInput.value.trim();
      const headers = key ? { authorization: `Bearer ${key}` } : {};
      const res = await fetch('/herd/dashboard', { cache: 'no-store', headers, signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(await errorText(res));
      const data = await res.json();
      last = data;
      render(data);
      setLive(true, `live · ${fmtClock(data.now)}`);
      banner(data.redis ? '' : 'Redis is not answering: queue and load figures are missing, requests will fail until it is back.');
    } catch (err) {
      setLive(false, 'offline');
      banner(`Cannot reach Herd: ${err.message}`);
    } finally {
      inflight = false;
      if (!document.hidden) timer = setTimeout(refresh, POLL_MS);
    }
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) refresh();
    else clearTimeout(timer);
  });

  function setLive(ok, text) {
    $('live').className = `live ${ok ? 'ok' : 'down'}`;
    setText($('live-text'), text);
  }

  function render(d) {
    setText($('replica'), `replica ${d.replica} · ${d.strategy} scheduler`);
    renderTiles(d);
    renderNodes(d);
    renderQueue(d);
    if (!$('view-fleet').hidden) renderCharts(d);
    renderRecent(d);
    renderTenants(d);
  }

  // ---------------------------------------------------------------- tiles

  function renderTiles(d) {
    const s = d.summary;
    setText($('t-nodes'), `${d.fleet.up} / ${d.fleet.nodes}`);
    const counts = {};
    for (const n of d.nodes) counts[n.state] = (counts[n.state] || 0) + 1;
    const trouble = STATES.filter((st) => st !== 'healthy' && counts[st]).map((st) => `${counts[st]} ${st}`);
    setText($('t-nodes-sub'), d.nodes.length === 0 ? 'no nodes' : trouble.length ? trouble.join(' · ') : 'all healthy');
    setText($('t-slots'), d.fleet.inFlight === null ? '–' : `${d.fleet.inFlight} / ${d.fleet.slots}`);
    setText($('t-slots-sub'), `running here: ${d.queue.runningHere}`);
    setText($('t-queue'), d.queue.waiting === null ? '–' : nf0.format(d.queue.waiting));
    setText($('t-queue-sub'), `wait p95 ${fmtMs(s.queueP95Ms)}`);
    setText($('t-rps'), fmtRate(s.requestsPerSecond));
    setText($('t-rps-sub'), s.errorRate === null ? `last ${s.seconds}s` : `${nf1.format(s.errorRate * 100)} % failed`);
    setText($('t-tps'), fmtRate(s.tokensPerSecond));
    setText($('t-tps-sub'), `last ${s.seconds}s`);
    setText($('t-p95'), fmtMs(s.p95Ms));
    setText($('t-p95-sub'), `p50 ${fmtMs(s.p50Ms)}`);
    setText($('t-ttft'), fmtMs(s.ttftP95Ms));
    setText($('t-ttft-sub'), 'incl. queue wait');
  }

  // ---------------------------------------------------------------- nodes

  const cards = new Map();

  function renderNodes(d) {
    const box = $('nodes');
    const up = d.nodes.filter((n) => n.state !== 'down').length;
    setText($('nodes-sub'), `${up} of ${d.nodes.length} reachable`);
    $('add-toggle').title = d.adminKeyRequired
      ? 'Node changes need the admin key (top right)'
      : d.adminLocked
        ? 'Node changes are locked: set HERD_ADMIN_KEY on Herd (it listens beyond loopback)'
        : 'The admin API is open to this machine (Herd listens on loopback, no HERD_ADMIN_KEY set)';
    const seen = new Set();
    d.nodes.forEach((n, i) => {
      seen.add(n.name);
      let card = cards.get(n.name);
      if (!card) {
        card = nodeCard(n.name);
        cards.set(n.name, card);
      }
      updateCard(card, n, d.now);
      if (box.children[i] !== card.el) box.insertBefore(card.el, box.children[i] || null);
    });
    for (const [name, card] of cards) {
      if (!seen.has(name)) {
        card.el.remove();
        cards.delete(name);
      }
    }
    let empty = box.querySelector('.nodes-empty');
    if (d.nodes.length === 0 && !empty) {
      empty = h('div', { class: 'nodes-empty', text: 'No nodes yet. Add one with the form on the right, or list them in containers.config.json.' });
      box.append(empty);
    } else if (d.nodes.length > 0 && empty) empty.remove();
  }

  function nodeCard(name) {
    const r = {};
    r.name = h('span', { class: 'node-name', text: name, title: name });
    r.state = h('span', { class: 'pill' });
    r.url = h('div', { class: 'node-url' });
    r.slotsBar = h('div', { class: 'slots-bar' });
    r.slotsText = h('span', { class: 'slots-text' });
    const stat = (label) => {
      const value = h('span', { class: 'stat-value' });
      return { el: h('div', { class: 'stat' }, h('span', { class: 'stat-label', text: label }), value), value };
    };
    r.backlog = stat('Backlog');
    r.circuit = stat('Circuit');
    r.failures = stat('Failures');
    r.weight = stat('Weight');
    r.models = h('div', { class: 'models' });
    r.error = h('div', { class: 'node-error' });
    r.drain = h('button', { class: 'btn small', type: 'button', 'data-action': 'drain' });
    r.remove = h('button', { class: 'btn small danger', type: 'button', 'data-action': 'remove', text: 'Remove' });
    r.drain.addEventListener('click', () => toggleDrain(r));
    r.remove.addEventListener('click', () => removeNode(r));
    r.el = h(
      'article',
      { class: 'node', 'data-node': name },
      h('div', { class: 'node-head' }, r.name, r.state),
      r.url,
      h('div', { class: 'slots' }, r.slotsBar, r.slotsText),
      h('div', { class: 'node-stats' }, r.backlog.el, r.circuit.el, r.failures.el, r.weight.el),
      r.models,
      r.error,
      h('div', { class: 'node-actions' }, r.drain, r.remove),
    );
    r.nodeName = name;
    return r;
  }

  function updateCard(r, n, now) {
    r.node = n;
    r.el.className = `node s-${n.state}`;
    r.state.className = `pill ${n.state}`;
    setText(r.state, n.state);
    // The URL comes only with the admin key; the public view has names and states.
    setText(r.url, [n.url, n.version ? `v${n.version}` : ''].filter(Boolean).join(' · '));
    r.url.title = n.checkedAt ? `last checked ${fmtAgo(n.checkedAt, now)}` : 'not checked yet';

    const busy = n.inFlight === null ? 0 : Math.min(n.inFlight, n.slots);
    r.slotsBar.replaceChildren();
    if (n.slots <= 16) {
      r.slotsBar.className = 'slots-bar';
      for (let i = 0; i < n.slots; i++) r.slotsBar.append(h('span', { class: i < busy ? 'slot busy' : 'slot' }));
    } else {
      r.slotsBar.className = 'slots-bar continuous';
      const fill = h('span', { class: 'slots-fill' });
      fill.style.width = `${(100 * busy) / n.slots}%`;
      r.slotsBar.append(fill);
    }
    setText(r.slotsText, n.inFlight === null ? `? / ${n.slots} slots` : `${n.inFlight} / ${n.slots} in use`);

    setText(r.backlog.value, n.backlogTokens === null ? '–' : `${fmtTokens(n.backlogTokens)} tok`);
    const circuitText = n.circuit.view === 'closed' ? 'closed' : n.circuit.view === 'open' ? `open ${Math.max(0, Math.ceil((n.circuit.openUntil - now) / 1000))}s` : 'half-open';
    setText(r.circuit.value, circuitText);
    r.circuit.value.className = `stat-value${n.circuit.view === 'closed' ? '' : n.circuit.view === 'open' ? ' bad' : ' warn'}`;
    const failures = Math.max(n.failures, n.circuit.failures);
    setText(r.failures.value, failures);
    r.failures.value.className = `stat-value${failures > 0 ? ' warn' : ''}`;
    setText(r.weight.value, n.weight);

    r.models.replaceChildren(
      ...(n.models.length
        ? n.models.map((m) =>
            h(
              'div',
              { class: 'model' },
              h('span', { class: 'model-name', text: m.name, title: m.name }),
              h('span', { class: m.resident ? 'model-loaded' : 'model-loaded cold', text: m.resident ? '● loaded' : 'on disk' }),
              h('span', {
                class: m.decodeTps === null ? 'model-rate' : 'model-rate learned',
                text: m.decodeTps === null ? 'not learned' : `${fmtRate(m.decodeTps)} tok/s`,
                title: m.decodeTps === null ? 'no answer measured yet' : `decode rate learned from ${m.samples} answer${m.samples === 1 ? '' : 's'}`,
              }),
            ),
          )
        : [h('div', { class: 'muted', text: n.state === 'down' ? 'models unknown while down' : 'no models' })]),
    );

    r.error.hidden = !(n.state === 'down' && n.lastError);
    setText(r.error, n.lastError ? `⚠ ${n.lastError}` : '');
    r.error.title = n.lastError || '';
    setText(r.drain, n.draining ? 'Undrain' : 'Drain');
    r.drain.setAttribute('data-action', n.draining ? 'undrain' : 'drain');
    r.drain.title = n.draining ? 'Take new work again' : 'Stop sending new work; running requests finish';
  }

  async function toggleDrain(r) {
    const action = r.node && r.node.draining ? 'undrain' : 'drain';
    r.drain.disabled = true;
    try {
      await admin('POST', `/herd/nodes/${encodeURIComponent(r.nodeName)}/${action}`);
      toast(`${r.nodeName}: ${action === 'drain' ? 'draining, running requests finish' : 'taking work again'}`);
    } catch (err) {
      toast(err.message, true);
    } finally {
      r.drain.disabled = false;
      refresh();
    }
  }

  async function removeNode(r) {
    if (!confirm(`Remove node ${r.nodeName} from the fleet? Requests running on it finish.`)) return;
    r.remove.disabled = true;
    try {
      await admin('DELETE', `/herd/nodes/${encodeURIComponent(r.nodeName)}`);
      toast(`${r.nodeName} removed`);
    } catch (err) {
      toast(err.message, true);
    } finally {
      r.remove.disabled = false;
      refresh();
    }
  }

  $('add-toggle').addEventListener('click', () => {
    const form = $('add-node');
    form.hidden = !form.hidden;
    if (!form.hidden) form.querySelector('input[name="name"]').focus();
  });
  $('add-cancel').addEventListener('click', () => ($('add-node').hidden = true));
  $('admin-form').addEventListener('submit', (ev) => ev.preventDefault());

  $('add-node').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const data = new FormData(form);
    const body = { name: String(data.get('name')).trim(), url: String(data.get('url')).trim() };
    if (data.get('slots')) body.slots = Number(data.get('slots'));
    if (data.get('weight')) body.weight = Number(data.get('weight'));
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      await admin('POST', '/herd/nodes', body);
      toast(`${body.name} added`);
      form.reset();
      form.hidden = true;
    } catch (err) {
      toast(err.message, true);
    } finally {
      button.disabled = false;
      refresh();
    }
  });

  // ---------------------------------------------------------------- queue

  function renderQueue(d) {
    const box = $('queue');
    const byP = d.queue.byPriority;
    if (!byP) {
      box.replaceChildren(h('div', { class: 'muted', text: 'unknown (Redis not answering)' }));
      setText($('queue-sub'), '');
      return;
    }
    const max = Math.max(1, ...byP);
    box.replaceChildren(
      ...byP.map((count, i) => {
        const bar = h('div', { class: i < 3 ? 'q-bar hot' : 'q-bar' });
        bar.style.width = `${(100 * count) / max}%`;
        return h('div', { class: 'q-row', 'data-priority': i + 1 }, h('span', { class: 'q-label', text: `P${i + 1}` }), h('div', { class: 'q-track' }, bar), h('span', { class: 'q-count', text: count }));
      }),
      h('div', { class: 'q-foot', text: 'Priority 1 is served first; equal priorities keep their arrival order.' }),
    );
    setText($('queue-sub'), `${d.queue.waiting} waiting`);
  }

  // ---------------------------------------------------------------- charts

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function legend(el, items) {
    el.replaceChildren(...items.map(([cls, label]) => h('span', null, h('span', { class: `swatch ${cls}` }), label)));
  }

  /** A line chart in inline SVG; null values leave gaps. */
  function lineChart(box, points, series, fmt, windowSeconds) {
    const width = Math.max(160, box.clientWidth || 280);
    const height = box.clientHeight || 132;
    const pad = { l: 40, r: 6, t: 6, b: 18 };
    const w = width - pad.l - pad.r;
    const hgt = height - pad.t - pad.b;
    let max = 0;
    for (const s of series) for (const p of points) if (p[s.key] !== null && p[s.key] > max) max = p[s.key];
    const top = niceMax(max);
    const n = points.length;
    const x = (i) => pad.l + (n <= 1 ? w : (i * w) / (n - 1));
    const y = (v) => pad.t + hgt - (v / top) * hgt;

    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
    for (const f of [0, 0.5, 1]) {
      const gy = y(top * f);
      root.append(svg('line', { class: 'grid', x1: pad.l, x2: width - pad.r, y1: gy, y2: gy }));
      root.append(svg('text', { class: 'axis', x: pad.l - 6, y: gy + 3, 'text-anchor': 'end' }, fmt(top * f)));
    }
    if (n > 0) {
      const span = windowSeconds || Math.round((points[n - 1].t - points[0].t) / 1000);
      root.append(svg('text', { class: 'axis', x: pad.l, y: height - 4 }, span >= 60 ? `-${Math.round(span / 60)}m` : `-${span}s`));
      root.append(svg('text', { class: 'axis', x: width - pad.r, y: height - 4, 'text-anchor': 'end' }, 'now'));
    }
    let anything = false;
    for (const s of series) {
      let d = '';
      let area = '';
      let run = [];
      const flush = () => {
        if (run.length === 0) return;
        if (run.length === 1) run.push([run[0][0] + 0.01, run[0][1]]);
        d += run.map(([px, py], k) => `${k ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
        if (s.area) area += `M${run[0][0].toFixed(1)},${y(0).toFixed(1)}` + run.map(([px, py]) => `L${px.toFixed(1)},${py.toFixed(1)}`).join('') + `L${run[run.length - 1][0].toFixed(1)},${y(0).toFixed(1)}Z`;
        run = [];
      };
      points.forEach((p, i) => {
        const v = p[s.key];
        if (v === null || v === undefined) flush();
        else {
          run.push([x(i), y(v)]);
          anything = true;
        }
      });
      flush();
      if (area) root.append(svg('path', { class: `area ${s.area}`, d: area }));
      if (d) root.append(svg('path', { class: `line ${s.cls}`, d }));
    }
    if (!anything) root.append(svg('text', { class: 'empty', x: pad.l + w / 2, y: pad.t + hgt / 2, 'text-anchor': 'middle' }, 'no requests yet'));
    box.replaceChildren(root);
  }

  const fmtAxisMs = (v) => (v === 0 ? '0' : v >= 1000 ? `${nf1.format(v / 1000)}s` : `${nf0.format(v)}ms`);
  const fmtAxisRate = (v) => (v >= 1000 ? `${nf1.format(v / 1000)}k` : v < 10 && v !== 0 ? nf1.format(v) : nf0.format(v));

  function renderCharts(d) {
    const pts = d.series.points;
    const step = d.series.stepSeconds;
    legend($('lg-rps'), [['s1', 'ok / s'], ['s2', 'failed / s']]);
    legend($('lg-tps'), [['s4', `tokens / s${step > 1 ? ` (${step}s avg)` : ''}`]]);
    legend($('lg-lat'), [['s1', 'p50'], ['s2', 'p95']]);
    legend($('lg-ttft'), [['s1', 'p50'], ['s2', 'p95'], ['s3', 'queue p95']]);
    lineChart($('c-rps'), pts, [{ key: 'okPerSecond', cls: 'c1', area: 'a1' }, { key: 'failedPerSecond', cls: 'c2' }], fmtAxisRate, d.series.windowSeconds);
    lineChart($('c-tps'), pts, [{ key: 'tokensPerSecond', cls: 'c4', area: 'a4' }], fmtAxisRate, d.series.windowSeconds);
    lineChart($('c-lat'), pts, [{ key: 'p50Ms', cls: 'c1', area: 'a1' }, { key: 'p95Ms', cls: 'c2' }], fmtAxisMs, d.series.windowSeconds);
    lineChart($('c-ttft'), pts, [{ key: 'ttftP50Ms', cls: 'c1', area: 'a1' }, { key: 'ttftP95Ms', cls: 'c2' }, { key: 'queueP95Ms', cls: 'c3' }], fmtAxisMs, d.series.windowSeconds);
  }

  let resizeTimer;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => last && !$('view-fleet').hidden && renderCharts(last), 100);
  });

  // ---------------------------------------------------------------- recent requests

  function ratioChip(estimate, actual) {
    if (!estimate || actual === null) return null;
    const r = actual / estimate;
    const off = Math.max(r, 1 / r);
    const cls = off <= 1.25 ? 'good' : off <= 2 ? 'fair' : 'poor';
    return h('span', { class: `ratio ${cls}`, text: `×${nf2.format(r)}`, title: 'actual ÷ predicted' });
  }

  function renderRecent(d) {
    const body = $('recent');
    if (d.recent.length === 0) {
      body.replaceChildren(h('tr', { class: 'recent-empty' }, h('td', { colspan: 11, text: 'No requests on this replica yet. Try the Console tab.' })));
      return;
    }
    body.replaceChildren(
      ...d.recent.slice(0, 12).map((r) => {
        const result = r.outcome === 'ok' ? `${r.status}` : `${r.status} ${r.outcome}`;
        return h(
          'tr',
          { title: r.error ? `${r.id}: ${r.error}` : r.id },
          h('td', { text: fmtClock(r.endedAt) }),
          h('td', { class: 'mono', text: r.route }),
          h('td', { class: 'model-cell', text: r.model }),
          h('td', { text: r.node || '–' }),
          h('td', { class: 'num', text: r.priority }),
          h('td', { class: 'num', text: fmtMs(r.queueMs) }),
          h('td', { class: 'num', text: fmtMs(r.estimateMs) }),
          h('td', { class: 'num' }, fmtMs(r.serviceMs), ratioChip(r.estimateMs, r.serviceMs)),
          h('td', { class: 'num', text: r.stream ? fmtMs(r.ttftMs) : '–' }),
          h('td', { class: 'num', text: r.evalCount === null ? '–' : nf0.format(r.evalCount) }),
          h('td', null, h('span', { class: `pill ${r.outcome}`, text: result }), r.retries ? h('span', { class: 'muted', text: ` ${r.retries} retr${r.retries === 1 ? 'y' : 'ies'}` }) : null),
        );
      }),
    );
  }

  // ---------------------------------------------------------------- tenants

  const pct = (v) => (v === null || v === undefined ? '–' : `${nf0.format(v * 100)} %`);

  function renderTenants(d) {
    const body = $('tenants');
    const t = d.tenants;
    if (!t) {
      setText($('tenants-sub'), '');
      const why = d.adminLocked ? 'Tenants are shown with the admin key; set HERD_ADMIN_KEY on Herd first.' : 'Enter the admin key (top right) to see tenants: their names and usage are for the operator.';
      body.replaceChildren(h('tr', { class: 'recent-empty' }, h('td', { colspan: 8, text: why })));
      return;
    }
    const minutes = Math.round(t.windowSeconds / 60);
    setText($('tenants-sub'), `last ${minutes} min · all replicas${t.more ? ` · ${t.more} more not shown` : ''}`);
    if (t.rows.length === 0) {
      body.replaceChildren(h('tr', { class: 'recent-empty' }, h('td', { colspan: 8, text: `No tenant was served in the last ${minutes} minutes, and nobody waits.` })));
      return;
    }
    body.replaceChildren(
      ...t.rows.map((r) => {
        const bar = h('div', { class: 'share-bar' });
        bar.style.width = `${Math.min(100, 100 * (r.serviceShare || 0))}%`;
        const mark = h('div', { class: 'share-mark', title: `weight share ${pct(r.weightShare)}` });
        mark.style.left = `${Math.min(100, 100 * r.weightShare)}%`;
        const over = r.serviceShare !== null && r.serviceShare > r.weightShare * 1.1;
        return h(
          'tr',
          { 'data-tenant': r.tenant },
          h('td', { class: 'tenant-name', text: r.tenant, title: r.tenant }),
          h('td', { class: 'num', text: nf0.format(r.requests) }),
          h('td', { class: 'num', text: fmtTokens(r.promptTokens) }),
          h('td', { class: 'num', text: fmtTokens(r.outputTokens) }),
          h('td', { class: 'share-col' }, h('div', { class: 'share' }, h('div', { class: 'share-track' }, bar, mark), h('span', { class: over ? 'share-text over' : 'share-text', text: `${pct(r.serviceShare)} / ${pct(r.weightShare)}` }))),
          h('td', { class: 'num', text: fmtTokens(r.service) }),
          h('td', { class: 'num', text: nf2.format(r.weight) }),
          h('td', { class: r.waiting ? 'num waiting' : 'num', text: r.waiting === null ? '–' : nf0.format(r.waiting) }),
        );
      }),
    );
  }

  // ---------------------------------------------------------------- API keys

  let keysLoading = false;

  /** GET /herd/keys answers an array of key records (never the keys themselves), or {keys: [...]}. */
  async function loadKeys() {
    if (keysLoading) return;
    keysLoading = true;
    const body = $('keys');
    try {
      const res = await fetch('/herd/keys', { cache: 'no-store', headers: adminHeaders(), signal: AbortSignal.timeout(10_000) });
      if (res.status === 401) throw new Error('Enter the admin key (top right) to list and create API keys.');
      if (res.status === 404) throw new Error('This Herd has no /herd/keys.');
      if (!res.ok) throw new Error(await errorText(res));
      const data = await res.json();
      const keys = Array.isArray(data) ? data : data && Array.isArray(data.keys) ? data.keys : [];
      renderKeys(keys);
    } catch (err) {
      setText($('keys-sub'), '');
      body.replaceChildren(h('tr', { class: 'recent-empty' }, h('td', { colspan: 10, text: err.message })));
    } finally {
      keysLoading = false;
    }
  }

  function fmtDate(iso) {
    if (!iso) return '–';
    const t = Date.parse(iso);
    return Number.isFinite(t) ? new Date(t).toLocaleString('en-GB', { hour12: false, year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : String(iso);
  }

  const orNone = (v) => (v === null || v === undefined ? '–' : nf0.format(v));

  /** A key's state: the record's own status when it has one, else from revokedAt and expiresAt. */
  function keyStatus(k, now) {
    if (k.status === 'active' || k.status === 'expired' || k.status === 'revoked') return k.status;
    if (k.revokedAt) return 'revoked';
    return k.expiresAt && Date.parse(k.expiresAt) <= now ? 'expired' : 'active';
  }

  const STATUS_PILL = { active: 'ok', expired: 'canceled', revoked: 'rejected' };
  const STATUS_ORDER = { active: 0, expired: 1, revoked: 2 };

  function renderKeys(keys) {
    const body = $('keys');
    const now = Date.now();
    const rows = keys.map((k) => ({ k, status: keyStatus(k, now) }));
    const active = rows.filter((r) => r.status === 'active').length;
    setText($('keys-sub'), `${active} active${rows.length > active ? ` · ${rows.length - active} expired or revoked` : ''}`);
    if (rows.length === 0) {
      body.replaceChildren(h('tr', { class: 'recent-empty' }, h('td', { colspan: 10, text: 'No API keys yet. With HERD_AUTH=keys every inference request needs one.' })));
      return;
    }
    body.replaceChildren(
      ...rows
        .sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || String(a.k.tenant).localeCompare(String(b.k.tenant)) || String(a.k.createdAt).localeCompare(String(b.k.createdAt)))
        .map(({ k, status }) => {
          let action = null;
          if (status !== 'revoked') {
            action = h('button', { class: 'btn small danger', type: 'button', 'data-action': 'revoke', text: 'Revoke' });
            action.addEventListener('click', () => revokeKey(k, action));
          }
          const models = Array.isArray(k.models) && k.models.length ? k.models.join(', ') : 'all';
          return h(
            'tr',
            { 'data-key-id': k.id, 'data-status': status },
            h('td', { class: 'mono', text: k.id, title: k.name ? `${k.id} · ${k.name}` : k.id }),
            h('td', { class: 'tenant-name', text: k.name ? `${k.tenant} · ${k.name}` : k.tenant, title: k.tenant }),
            h('td', { class: 'num', text: k.weight === undefined || k.weight === null ? '1' : nf2.format(k.weight) }),
            h('td', { class: 'num', text: k.priorityFloor === undefined || k.priorityFloor === null ? '–' : k.priorityFloor }),
            h('td', { class: 'model-cell', text: models, title: models }),
            h('td', { class: 'num', text: orNone(k.rpm) }),
            h('td', { class: 'num', text: orNone(k.tpm) }),
            h('td', null, status === 'active' ? fmtDate(k.expiresAt) : h('span', { class: `pill ${STATUS_PILL[status]}`, text: status, title: status === 'revoked' ? `revoked ${fmtDate(k.revokedAt)}` : `expired ${fmtDate(k.expiresAt)}` })),
            h('td', { text: fmtDate(k.createdAt) }),
            h('td', { class: 'num' }, action),
          );
        }),
    );
  }

  async function revokeKey(k, button) {
    if (!confirm(`Revoke key ${k.id} of tenant ${k.tenant}? Requests with it are refused from now on.`)) return;
    button.disabled = true;
    try {
      await admin('DELETE', `/herd/keys/${encodeURIComponent(k.id)}`);
      toast(`key ${k.id} revoked`);
    } catch (err) {
      toast(err.message, true);
      button.disabled = false;
    } finally {
      loadKeys();
    }
  }

  /** The form as a POST /herd/keys body: empty fields are left out, so Herd's defaults apply. */
  function keyBody(form) {
    const data = new FormData(form);
    const text = (name) => String(data.get(name) || '').trim();
    const body = { tenant: text('tenant') };
    if (text('name')) body.name = text('name');
    for (const name of ['weight', 'priorityFloor', 'rpm', 'tpm']) if (text(name)) body[name] = Number(text(name));
    const models = text('models')
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean);
    if (models.length) body.models = models;
    if (text('expiresAt')) {
      const t = new Date(text('expiresAt'));
      if (!Number.isFinite(t.getTime())) throw new Error('Expires: not a date');
      body.expiresAt = t.toISOString();
    }
    return body;
  }

  $('key-toggle').addEventListener('click', () => {
    const form = $('new-key');
    form.hidden = !form.hidden;
    if (!form.hidden) form.querySelector('input[name="tenant"]').focus();
  });
  $('key-cancel').addEventListener('click', () => ($('new-key').hidden = true));

  $('new-key').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const created = await admin('POST', '/herd/keys', keyBody(form));
      // The plain key is in this answer only: shown once, as an input's value (never as markup).
      setText($('key-created-title'), `New key for ${created.tenant}`);
      $('key-plain').value = created.key || '';
      $('key-created').hidden = false;
      $('key-plain').focus();
      $('key-plain').select();
      form.reset();
      form.hidden = true;
    } catch (err) {
      toast(err.message, true);
    } finally {
      button.disabled = false;
      loadKeys();
    }
  });

  $('key-copy').addEventListener('click', async () => {
    const input = $('key-plain');
    try {
      await navigator.clipboard.writeText(input.value);
      toast('key copied');
    } catch {
      input.select(); // no clipboard access (plain HTTP): selected for Ctrl+C
      toast('Press Ctrl+C to copy the selected key');
    }
  });
  $('key-done').addEventListener('click', () => {
    $('key-plain').value = '';
    $('key-created').hidden = true;
  });
  let keysTimer;
  keyInput.addEventListener('input', () => {
    clearTimeout(keysTimer);
    keysTimer = setTimeout(() => !$('view-tenants').hidden && loadKeys(), 400);
  });

  // ---------------------------------------------------------------- console

  const cModel = $('c-model');
  const cPriority = $('c-priority');
  const cOutput = $('c-output');
  const cStatus = $('c-status');
  for (let p = 1; p <= 10; p++) cPriority.append(h('option', { value: p, text: p === 1 ? '1 (first)' : p === 10 ? '10 (last)' : String(p), selected: p === 5 }));

  let modelsLoaded = false;
  async function loadModels() {
    try {
      const res = await fetch('/api/tags', { cache: 'no-store' });
      if (!res.ok) throw new Error(await errorText(res));
      const { models } = await res.json();
      const current = cModel.value;
      const names = (models || []).map((m) => m.name).sort();
      cModel.replaceChildren(...(names.length ? names.map((n) => h('option', { value: n, text: n })) : [h('option', { value: '', text: 'no models: no node is up' })]));
      if (names.includes(current)) cModel.value = current;
      modelsLoaded = names.length > 0;
    } catch (err) {
      if (!modelsLoaded) cModel.replaceChildren(h('option', { value: '', text: `cannot list models: ${err.message}` }));
    }
  }

  const meta = {
    node: $('m-node'),
    queue: $('m-queue'),
    estimate: $('m-estimate'),
    ttft: $('m-ttft'),
    tokens: $('m-tokens'),
    speed: $('m-speed'),
    total: $('m-total'),
    id: $('m-id'),
  };

  function setStatus(text, cls) {
    cStatus.className = `pill ${cls}`;
    setText(cStatus, text);
  }

  function resetMeta() {
    for (const el of Object.values(meta)) setText(el, '–');
  }

  function showHeaders(res) {
    setText(meta.node, res.headers.get('x-herd-node') || '–');
    const q = res.headers.get('x-herd-queue-ms');
    setText(meta.queue, q === null ? '–' : fmtMs(Number(q)));
    const e = res.headers.get('x-herd-estimate-ms');
    setText(meta.estimate, e === null ? '–' : fmtMs(Number(e)));
    setText(meta.id, res.headers.get('x-request-id') || '–');
  }

  function showFinal(chunk) {
    if (typeof chunk.eval_count === 'number') setText(meta.tokens, nf0.format(chunk.eval_count));
    if (typeof chunk.eval_count === 'number' && chunk.eval_duration > 0) setText(meta.speed, `${fmtRate(chunk.eval_count / (chunk.eval_duration / 1e9))} tok/s`);
  }

  let answerText = null;
  function appendAnswer(text) {
    if (!text) return;
    if (!answerText) {
      answerText = document.createTextNode('');
      cOutput.replaceChildren(answerText, h('span', { class: 'cursor' }));
    }
    answerText.appendData(text);
    cOutput.scrollTop = cOutput.scrollHeight;
  }

  let controller = null;

  async function send() {
    if (controller) return;
    const model = cModel.value;
    const prompt = $('c-prompt').value;
    if (!model) return toast('Pick a model first (no node is up?)', true);
    if (!prompt.trim()) return toast('Write a prompt first', true);
    const stream = $('c-stream').checked;
    const body = { model, prompt, stream, priority: Number(cPriority.value) };
    const max = Number($('c-max').value);
    if (max > 0) body.options = { num_predict: max };

    controller = new AbortController();
    $('c-send').disabled = true;
    $('c-stop').disabled = false;
    cOutput.className = 'output';
    cOutput.replaceChildren();
    answerText = null;
    resetMeta();
    setStatus(stream ? 'waiting' : 'running', 'running');
    const started = performance.now();
    const clock = setInterval(() => setText(meta.total, fmtMs(performance.now() - started)), 100);
    try {
      const res = await fetch('/api/generate', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: controller.signal });
      showHeaders(res);
      if (!res.ok) throw new Error(await errorText(res));
      if (!stream) {
        const chunk = await res.json();
        setText(meta.ttft, fmtMs(performance.now() - started));
        appendAnswer(chunk.response || '');
        showFinal(chunk);
      } else {
        await readStream(res, started);
      }
      setStatus('done', 'ok');
    } catch (err) {
      if (err.name === 'AbortError') setStatus('stopped', 'canceled');
      else {
        setStatus('error', 'error');
        cOutput.className = 'output error';
        cOutput.append(document.createTextNode(`${cOutput.textContent ? '\n\n' : ''}${err.message}`));
      }
    } finally {
      clearInterval(clock);
      setText(meta.total, fmtMs(performance.now() - started));
      const cursor = cOutput.querySelector('.cursor');
      if (cursor) cursor.remove();
      controller = null;
      $('c-send').disabled = false;
      $('c-stop').disabled = true;
    }
  }

  /** Reads Ollama's NDJSON stream: one JSON object per line, the last one with done: true and the timings. */
  async function readStream(res, started) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let first = true;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const chunk = JSON.parse(line);
        if (chunk.error) throw new Error(chunk.error);
        if (first) {
          first = false;
          setText(meta.ttft, fmtMs(performance.now() - started));
          setStatus('streaming', 'running');
        }
        appendAnswer(chunk.response || '');
        if (chunk.done) showFinal(chunk);
      }
    }
    const rest = (buffer + decoder.decode()).trim();
    if (rest) {
      const chunk = JSON.parse(rest);
      if (chunk.error) throw new Error(chunk.error);
      appendAnswer(chunk.response || '');
      if (chunk.done) showFinal(chunk);
    }
  }

  $('c-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  $('c-prompt').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      send();
    }
  });
  $('c-stop').addEventListener('click', () => controller && controller.abort());

  // ---------------------------------------------------------------- start

  showView();
  refresh();
})();
