// Herd topology: the fleet as a live graph (Ollama Gateway's /topology). Herd in the middle, nodes around it,
// each node's models around the node. Vanilla JS and SVG, no dependencies; data: GET /herd/dashboard every second.
// Edge width grows with the requests running on a node (inFlight, all replicas) and the requests this replica
// finished there in the last 30 s (the dashboard's recent list); dots travel out for running and new requests.
(() => {
  'use strict';

  const POLL_MS = 1000;
  const RATE_WINDOW_MS = 30_000;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const W = 1000;
  const H = 680;
  const CENTER = { x: W / 2, y: H / 2 };

  const $ = (id) => document.getElementById(id);

  function svg(tag, attrs, text) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // ---------------------------------------------------------------- traffic

  const seen = new Set();
  /** Finished requests per edge, as timestamps (last RATE_WINDOW_MS) and a running total since the page opened. */
  const finished = new Map();
  /** Requests finished since the last poll, each drawn as a dot going out (node, then model). */
  let pulses = [];

  const edgeKey = (node, model) => (model === undefined ? node : `${node}\u0000${model}`);

  function noteFinished(key, at) {
    const f = finished.get(key) ?? { times: [], total: 0 };
    f.times.push(at);
    f.total++;
    finished.set(key, f);
  }

  function rateOf(key, now) {
    const f = finished.get(key);
    if (!f) return { rate: 0, total: 0 };
    while (f.times.length && f.times[0] < now - RATE_WINDOW_MS) f.times.shift();
    return { rate: f.times.length / (RATE_WINDOW_MS / 1000), total: f.total };
  }

  /** The node's name for the model a request asked for (the request log keeps Herd's normalised name). */
  function modelOn(node, model) {
    const names = node ? node.models.map((m) => m.name) : [];
    return names.find((n) => n === model || n === `${model}:latest` || n.toLowerCase() === String(model).toLowerCase());
  }

  function noteTraffic(d, first) {
    const byName = new Map(d.nodes.map((n) => [n.name, n]));
    for (const r of d.recent) {
      if (!r.id || !r.node || seen.has(r.id)) continue;
      seen.add(r.id);
      const model = modelOn(byName.get(r.node), r.model);
      noteFinished(edgeKey(r.node), first ? r.endedAt : Date.now());
      if (model) noteFinished(edgeKey(r.node, model), first ? r.endedAt : Date.now());
      if (!first) pulses.push({ node: r.node, model, born: performance.now() + Math.random() * 600 });
    }
    if (seen.size > 5000) for (const id of [...seen].slice(0, 2500)) seen.delete(id);
  }

  // ---------------------------------------------------------------- layout

  let layout = { key: '', herd: CENTER, nodes: new Map() };

  function place(d) {
    const key = JSON.stringify(d.nodes.map((n) => [n.name, n.models.map((m) => m.name)]));
    if (key === layout.key) return false;
    const nodes = new Map();
    const count = d.nodes.length;
    const radius = count <= 1 ? 170 : Math.min(210, 120 + count * 12);
    d.nodes.forEach((n, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, count);
      const at = { x: CENTER.x + radius * Math.cos(angle), y: CENTER.y + radius * Math.sin(angle) };
      const m = n.models.length;
      const spread = Math.min(0.55, 2.4 / Math.max(1, m));
      const models = n.models.map((model, j) => {
        const a = angle + spread * (j - (m - 1) / 2);
        return { name: model.name, angle: a, x: at.x + 105 * Math.cos(a), y: at.y + 105 * Math.sin(a) };
      });
      nodes.set(n.name, { ...at, angle, models });
    });
    layout = { key, herd: CENTER, nodes };
    return true;
  }

  // ---------------------------------------------------------------- drawing

  function build(d) {
    const edges = $('edges');
    const vertices = $('vertices');
    edges.replaceChildren();
    vertices.replaceChildren();
    for (const n of d.nodes) {
      const p = layout.nodes.get(n.name);
      edges.append(svg('line', { class: 'edge edge-node', 'data-node': n.name, x1: CENTER.x, y1: CENTER.y, x2: p.x, y2: p.y, 'stroke-width': 2 }));
      for (const m of p.models) {
        edges.append(svg('line', { class: 'edge edge-model', 'data-node': n.name, 'data-model': m.name, x1: p.x, y1: p.y, x2: m.x, y2: m.y, 'stroke-width': 1 }));
        const g = svg('g', { class: 'model', 'data-node': n.name, 'data-model': m.name, transform: `translate(${m.x.toFixed(1)} ${m.y.toFixed(1)})` });
        const right = Math.cos(m.angle) >= -0.01;
        g.append(svg('circle', { r: 7 }), svg('text', { x: right ? 11 : -11, y: 0, 'text-anchor': right ? 'start' : 'end' }, m.name));
        vertices.append(g);
      }
      const g = svg('g', { class: 'node', 'data-node': n.name, transform: `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})` });
      g.append(svg('circle', { r: 34 }), svg('text', { class: 'name', y: -6 }, n.name), svg('text', { class: 'sub', y: 10 }, ''));
      vertices.append(g);
    }
    const herd = svg('g', { class: 'herd', transform: `translate(${CENTER.x} ${CENTER.y})` });
    herd.append(svg('circle', { r: 46 }), svg('text', { y: -7 }, 'Herd'), svg('text', { class: 'sub', y: 12 }, ''));
    vertices.append(herd);
  }

  function update(d) {
    const now = Date.now();
    let running = 0;
    let rateSum = 0;
    for (const n of d.nodes) {
      const inFlight = n.inFlight ?? 0;
      running += inFlight;
      const { rate, total } = rateOf(edgeKey(n.name), now);
      rateSum += rate;
      const edge = document.querySelector(`line.edge-node[data-node="${CSS.escape(n.name)}"]`);
      if (edge) setTraffic(edge, inFlight, rate, total, 2 + Math.min(14, inFlight * 1.6 + rate * 1.5));
      const g = document.querySelector(`g.node[data-node="${CSS.escape(n.name)}"]`);
      if (g) {
        g.setAttribute('data-state', n.state);
        g.querySelector('.sub').textContent = `${inFlight} / ${n.slots}`;
        const title = g.querySelector('title') ?? g.appendChild(svg('title', {}));
        title.textContent = `${n.name}: ${n.state}, ${inFlight} of ${n.slots} slots in use${n.lastError ? ` (${n.lastError})` : ''}`;
      }
      const resident = new Set(n.models.filter((m) => m.resident).map((m) => m.name));
      for (const m of n.models) {
        const sel = `[data-node="${CSS.escape(n.name)}"][data-model="${CSS.escape(m.name)}"]`;
        const mr = rateOf(edgeKey(n.name, m.name), now);
        const line = document.querySelector(`line.edge-model${sel}`);
        if (line) setTraffic(line, 0, mr.rate, mr.total, 1 + Math.min(8, mr.rate * 1.5));
        document.querySelector(`g.model${sel}`)?.setAttribute('data-resident', String(resident.has(m.name)));
      }
    }
    const herdSub = document.querySelector('g.herd .sub');
    if (herdSub) herdSub.textContent = `${d.fleet.up} / ${d.fleet.nodes} up`;
    $('summary').textContent = `${d.fleet.nodes} nodes · ${running} running · ${d.queue.waiting ?? '–'} waiting · ${rateSum.toFixed(1)} req/s`;
    inFlightByNode = new Map(d.nodes.map((n) => [n.name, n.inFlight ?? 0]));
  }

  function setTraffic(line, inFlight, rate, total, width) {
    line.setAttribute('stroke-width', width.toFixed(1));
    line.setAttribute('data-inflight', String(inFlight));
    line.setAttribute('data-rate', rate.toFixed(2));
    line.setAttribute('data-requests', String(total));
    line.classList.toggle('busy', inFlight > 0 || rate > 0);
  }

  // ---------------------------------------------------------------- dots

  let inFlightByNode = new Map();
  const pool = [];

  function along(a, b, t) {
    return { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t };
  }

  function frame(t) {
    const points = [];
    for (const [name, inFlight] of inFlightByNode) {
      const p = layout.nodes.get(name);
      if (!p) continue;
      // One dot per running request (at most 12), circling outward along the node's edge.
      for (let i = 0; i < Math.min(12, inFlight); i++) points.push(along(CENTER, p, ((t / 1400 + i / Math.min(12, inFlight)) % 1)));
    }
    pulses = pulses.filter((pulse) => t - pulse.born < 1500);
    for (const pulse of pulses) {
      const p = layout.nodes.get(pulse.node);
      const age = t - pulse.born;
      if (!p || age < 0) continue;
      const m = pulse.model && p.models.find((x) => x.name === pulse.model);
      if (age < 900) points.push(along(CENTER, p, age / 900));
      else if (m) points.push(along(p, m, (age - 900) / 600));
    }
    const dots = $('dots');
    while (pool.length < points.length) pool.push(dots.appendChild(svg('circle', { class: 'dot', r: 4 })));
    pool.forEach((c, i) => {
      const pt = points[i];
      c.setAttribute('visibility', pt ? 'visible' : 'hidden');
      if (pt) {
        c.setAttribute('cx', pt.x.toFixed(1));
        c.setAttribute('cy', pt.y.toFixed(1));
      }
    });
    requestAnimationFrame(frame);
  }

  // ---------------------------------------------------------------- polling

  let timer;
  let first = true;

  async function refresh() {
    clearTimeout(timer);
    try {
      const res = await fetch('/herd/dashboard', { cache: 'no-store', signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const d = await res.json();
      noteTraffic(d, first);
      first = false;
      if (place(d)) build(d);
      update(d);
      setLive(true, `live · ${new Date(d.now).toLocaleTimeString()}`);
    } catch (err) {
      setLive(false, `offline (${err.message})`);
    } finally {
      if (!document.hidden) timer = setTimeout(refresh, POLL_MS);
    }
  }

  function setLive(ok, text) {
    $('live').className = `live ${ok ? 'ok' : 'down'}`;
    $('live-text').textContent = text;
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) void refresh();
    else clearTimeout(timer);
  });

  void refresh();
  requestAnimationFrame(frame);
})();
