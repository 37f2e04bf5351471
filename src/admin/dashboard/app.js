// probekit's dashboard page. Plain browser JavaScript, served as is by the admin server
// (no build step); uPlot is loaded before it from the installed package.
//
// Data comes from the server's feed (`stream`: server-sent events read from a fetch
// response, so the bearer token can go in a header) and from `errors` and `actions`.
// Every URL is relative to the page. The token, when the server asks for one, is kept in
// this script's memory only. Text from the server is only ever set as textContent.
// uPlot: the global that uplot.js (loaded first) defines; declared in eslint.config.js.
'use strict';

(() => {
  /** History the page keeps, in ms. */
  const HISTORY_MS = 10 * 60 * 1000;
  /** Lines one chart draws; further series of a probe are shown as text only. */
  const MAX_LINES = 8;
  /** Wait before reconnecting, in ms. */
  const RETRY_MS = 2000;
  const CHART_HEIGHT = 110;
  const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };

  let token = null;
  let server = null; // the hello of the process the page shows
  let lost = false;
  let everConnected = false;
  let controller = null;
  let retryTimer = null;
  let lastErrorTotal = -1;
  let errorsLoading = false;
  let renderQueued = false;

  // Columns: times (seconds, as uPlot wants) and one array of values per series id.
  const times = [];
  const cols = [];
  const defs = [];
  const proc = { cpu: [], rss: [], heapUsed: [], heapTotal: [], loopP50: [], loopP99: [], loopMax: [], gcCount: [], gcMs: [] };

  /** Cards by key: `p:<name>` for the process panel, `f:<family>` for probes. */
  const cards = new Map();

  // ---- formatting ---------------------------------------------------------------

  const MIB = 1024 * 1024;
  /** 1234567 → "1,234,567" (toLocaleString is far slower, and this runs for every value every second). */
  function grouped(n) {
    if (!Number.isSafeInteger(n)) return String(n);
    return String(n).replace(/\B(?=(\d{3})+$)/g, ',');
  }
  function num(v, digits = 3) {
    if (v === null || v === undefined) return '–';
    if (typeof v !== 'number') return String(v);
    if (Number.isInteger(v)) return grouped(v);
    const a = Math.abs(v);
    if (a >= 1000) return grouped(Math.round(v));
    if (a >= 1) return String(Number(v.toFixed(2)));
    return String(Number(v.toPrecision(digits)));
  }
  function seconds(v) {
    if (v === null || v === undefined) return '–';
    if (Math.abs(v) < 1) return `${num(v * 1000)} ms`;
    return `${num(v)} s`;
  }
  const bytes = (v) => (v === null || v === undefined ? '–' : `${num(v / MIB)} MiB`);
  const time = (ms) => new Date(ms).toLocaleTimeString();
  function formatterFor(def) {
    if (def.format === 'date') return (v) => (typeof v === 'number' ? time(v) : num(v));
    if (typeof def.unit === 'string' && /^(s|seconds?)$/.test(def.unit)) return seconds;
    if (typeof def.unit === 'string' && /^bytes?$/.test(def.unit)) return bytes;
    const unit = def.unit ? ` ${def.unit}` : '';
    return (v) => (typeof v === 'number' ? `${num(v)}${unit}` : num(v));
  }
  function perText(per) {
    if (per === 1) return 'per second';
    if (per === 60) return 'per minute';
    if (per === 3600) return 'per hour';
    return `per ${per} s`;
  }
  function labelText(labels) {
    const keys = Object.keys(labels);
    return keys.length === 0 ? '' : keys.map((k) => `${k}=${labels[k]}`).join(', ');
  }
  const two = (n) => String(n).padStart(2, '0');
  /** An x-axis tick: hh:mm, or hh:mm:ss when the chart spans less than a few minutes. */
  function clock(s) {
    const d = new Date(s * 1000);
    return `${two(d.getHours())}:${two(d.getMinutes())}${d.getSeconds() === 0 ? '' : `:${two(d.getSeconds())}`}`;
  }

  // ---- talking to the server ----------------------------------------------------

  function api(path, init = {}) {
    const headers = new Headers(init.headers || {});
    if (token !== null) headers.set('Authorization', `Bearer ${token}`);
    return fetch(path, { ...init, headers, cache: 'no-store', credentials: 'same-origin' });
  }

  function setConn(text, cls) {
    const c = $('conn');
    c.textContent = text;
    c.className = `conn ${cls}`;
  }

  function banner(text, cls) {
    const b = $('banner');
    if (text === null) {
      b.hidden = true;
      return;
    }
    b.textContent = text;
    b.className = `banner ${cls}`;
    b.hidden = false;
  }

  function askToken(why) {
    if (controller) controller.abort();
    setConn('token needed', 'warn');
    $('login-why').textContent = why;
    $('login').hidden = false;
    $('token').focus();
  }

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = $('token');
    token = input.value.trim() || null;
    input.value = '';
    $('login').hidden = true;
    connect();
  });

  function scheduleRetry() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, RETRY_MS);
  }

  function serverGone(why) {
    if (everConnected && !lost) {
      lost = true;
      banner(`The server went away (${why}). The charts keep the history they have; retrying every ${RETRY_MS / 1000} s…`, 'bad');
    }
    setConn('disconnected', 'bad');
    scheduleRetry();
  }

  async function connect() {
    clearTimeout(retryTimer);
    if (controller) controller.abort();
    controller = new AbortController();
    const mine = controller;
    let res;
    try {
      res = await api('stream', { signal: mine.signal });
    } catch {
      if (mine.signal.aborted) return;
      serverGone('no answer');
      return;
    }
    if (res.status === 401) return askToken('This server asks for a bearer token.');
    if (res.status === 403) return askToken('That token was refused.');
    if (!res.ok || !res.body) {
      serverGone(`answered ${res.status}`);
      return;
    }
    setConn('live', 'ok');
    if (lost) {
      lost = false;
      banner('Connected again: the server is back.', 'ok');
      setTimeout(() => {
        if (!lost) banner(null);
      }, 5000);
    }
    everConnected = true;
    loadActions();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          onEvent(block);
        }
      }
    } catch {
      // the connection broke: handled below
    }
    if (!mine.signal.aborted) serverGone('the stream ended');
  }

  function onEvent(block) {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length === 0) return;
    let payload;
    try {
      payload = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    if (name === 'hello') onHello(payload);
    else if (name === 'series') onSeries(payload);
    else if (name === 'frame') onFrame(payload);
  }

  // ---- state --------------------------------------------------------------------

  function onHello(hello) {
    // Another process (a restart): its series ids and history are its own.
    if (server !== null && (server.pid !== hello.pid || server.started !== hello.started)) reset();
    server = hello;
    $('who').textContent = `· ${hello.title} · pid ${hello.pid} · node ${hello.node}`;
    document.title = `probekit · ${hello.title} (${hello.pid})`;
  }

  function reset() {
    times.length = 0;
    cols.length = 0;
    defs.length = 0;
    for (const k of Object.keys(proc)) proc[k].length = 0;
    for (const card of cards.values()) card.destroy();
    cards.clear();
    unplaced.length = 0;
    $('probes').textContent = '';
    $('runtime').textContent = '';
    $('process').textContent = '';
    lastErrorTotal = -1;
  }

  /** Series whose rows are not on the page yet: made a batch per animation frame, so hundreds arriving at once never make one long task. */
  const unplaced = [];
  const PLACED_PER_FRAME = 60;
  let placing = false;

  function onSeries(msg) {
    for (const def of msg.series) {
      if (defs[def.id] !== undefined) continue;
      defs[def.id] = def;
      cols[def.id] = new Array(times.length).fill(null);
      unplaced.push(def);
    }
    if (!placing && unplaced.length > 0) {
      placing = true;
      requestAnimationFrame(place);
    }
  }

  function place() {
    const batch = unplaced.splice(0, PLACED_PER_FRAME);
    for (const def of batch) {
      const key = `f:${def.family}`;
      let card = cards.get(key);
      if (!card) {
        card = probeCard(def);
        cards.set(key, card);
      }
      card.add(def);
      card.text();
    }
    updateCount();
    if (unplaced.length > 0) requestAnimationFrame(place);
    else placing = false;
  }

  function onFrame(f) {
    const t = f.t / 1000;
    if (times.length > 0 && t <= times[times.length - 1]) return; // already have it (a reconnect's history)
    times.push(t);
    for (let id = 0; id < defs.length; id++) {
      const col = cols[id];
      if (col) col.push(id < f.v.length ? f.v[id] : null);
    }
    for (const k of Object.keys(proc)) proc[k].push(f.p[k] === undefined ? null : f.p[k]);
    // Drop what is older than the page keeps, in steps, not one point at a time.
    const horizon = t - HISTORY_MS / 1000;
    if (times[0] < horizon - 60) {
      let n = 0;
      while (n < times.length && times[n] < horizon) n++;
      times.splice(0, n);
      for (const col of cols) if (col) col.splice(0, n);
      for (const k of Object.keys(proc)) proc[k].splice(0, n);
    }
    latest = f;
    if (f.e.total !== lastErrorTotal) loadErrors(f.e.total);
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(render);
    }
  }
  let latest = null;

  // ---- cards --------------------------------------------------------------------

  const visible = new Set();
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const card = entry.target.__card;
        if (!card) continue;
        if (entry.isIntersecting) {
          visible.add(card);
          queueDraw(card);
        } else {
          visible.delete(card);
        }
      }
    },
    { rootMargin: '200px' },
  );

  /**
   * Charts made at most a few per animation frame: a scroll or a first load that brings a
   * dozen cards into view at once must not make them all in one long task.
   */
  const CHARTS_PER_FRAME = 3;
  const drawQueue = new Set();
  let drawScheduled = false;
  function queueDraw(card) {
    drawQueue.add(card);
    if (drawScheduled) return;
    drawScheduled = true;
    requestAnimationFrame(drainDraws);
  }
  function drainDraws() {
    drawScheduled = false;
    let made = 0;
    for (const card of drawQueue) {
      drawQueue.delete(card);
      if (card.hasChart()) card.draw();
      else if (made < CHARTS_PER_FRAME) {
        card.draw();
        made++;
      } else {
        drawQueue.add(card);
        break;
      }
    }
    if (drawQueue.size > 0 && !drawScheduled) {
      drawScheduled = true;
      requestAnimationFrame(drainDraws);
    }
  }

  /**
   * A card: a title, the latest value of each of its lines as text, and a chart made the
   * first time the card scrolls into view and redrawn only while it is in view.
   */
  function makeCard(container, key, title, subtitle, help) {
    const root = el('article', 'card');
    root.dataset.card = key;
    const head = el('header');
    head.append(el('h3', null, title));
    const sub = el('span', 'sub', subtitle);
    head.append(sub);
    if (help) root.title = help;
    const values = el('dl', 'values');
    const plot = el('div', 'plot');
    root.append(head, values, plot);
    container.append(root);
    const lines = [];
    let chart = null;
    let chartLines = 0;
    const card = {
      key,
      title,
      root,
      lines,
      /** Adds a line: `label`, the column it reads, how to show a value, and data attributes for the row. */
      line(label, col, fmt, data, textOnly = false) {
        const dt = el('dt', null, label || title);
        const dd = el('dd', 'value', '–');
        for (const [k, v] of Object.entries(data || {})) dd.dataset[k] = v;
        values.append(dt, dd);
        lines.push({ label: label || title, col, fmt, dd, shown: undefined, textOnly });
      },
      subtitle(text) {
        sub.textContent = text;
      },
      /** Updates the text of every line (cheap: only where the value changed). */
      text() {
        for (const line of lines) {
          const v = line.col().length === 0 ? null : line.col()[line.col().length - 1];
          if (v === line.shown) continue;
          line.shown = v;
          line.dd.textContent = line.fmt(v);
          line.dd.dataset.value = v === null ? '' : String(v);
        }
      },
      hasChart: () => chart !== null,
      /** Draws the chart, making it first; only for a card in view. */
      draw() {
        if (!visible.has(card)) return;
        const drawn = lines.slice(0, MAX_LINES).filter((l) => !l.textOnly && l.col().some((v) => typeof v === 'number'));
        if (drawn.length === 0) return;
        const data = [times, ...drawn.map((l) => l.col().map((v) => (typeof v === 'number' ? v : null)))];
        if (chart !== null && chartLines !== drawn.length) {
          chart.destroy();
          chart = null;
        }
        if (chart === null) {
          const width = Math.max(200, plot.clientWidth);
          const fmt = drawn[0].fmt;
          chart = new uPlot(
            {
              width,
              height: CHART_HEIGHT,
              legend: { show: false },
              cursor: { drag: { x: false, y: false } },
              scales: { x: { time: true } },
              axes: [
                { size: 22, space: 70, font: '10px system-ui', ticks: { size: 3 }, values: (_u, splits) => splits.map(clock) },
                { size: 66, space: 24, font: '10px system-ui', ticks: { size: 3 }, values: (_u, splits) => splits.map((v) => fmt(v)) },
              ],
              series: [{}, ...drawn.map((l, i) => ({ label: l.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, points: { show: false } }))],
            },
            data,
            plot,
          );
          chartLines = drawn.length;
        } else {
          chart.setData(data);
        }
      },
      resize() {
        if (chart !== null) chart.setSize({ width: Math.max(200, plot.clientWidth), height: CHART_HEIGHT });
      },
      destroy() {
        observer.unobserve(root);
        visible.delete(card);
        if (chart !== null) chart.destroy();
        root.remove();
      },
    };
    root.__card = card;
    observer.observe(root);
    return card;
  }

  /** Families the runtime metrics and probekit itself register: shown after the application's own. */
  const RUNTIME = /^(process|nodejs|v8js|system|probekit)_/;

  function probeCard(def) {
    const kind = def.kind === 'meter' ? `meter · ${perText(def.per)}` : def.kind === 'histogram' ? 'histogram · p50 p95 p99' : def.kind;
    const container = RUNTIME.test(def.family) ? $('runtime') : $('probes');
    const card = makeCard(container, `f:${def.family}`, def.name, def.name === def.family ? kind : `${def.family} · ${kind}`, def.help || '');
    card.root.dataset.family = def.family;
    const fmt = formatterFor(def);
    card.add = (d) => {
      const labels = labelText(d.labels);
      const label = d.kind === 'histogram' ? `${d.stat}${labels ? ` {${labels}}` : ''}` : labels;
      // A time (a Date metric) reads as text; its chart would only be a rising line.
      card.line(label, () => cols[d.id], fmt, { family: d.family, labels: JSON.stringify(d.labels), stat: d.stat }, d.format === 'date');
    };
    applyFilter(card);
    return card;
  }

  function processCards() {
    const c = $('process');
    if (c.childElementCount > 0) return;
    const mk = (name, title, sub, lines) => {
      const card = makeCard(c, `p:${name}`, title, sub);
      card.root.dataset.process = name;
      for (const [label, key, fmt] of lines) card.line(label, () => proc[key], fmt, { process: key });
      cards.set(`p:${name}`, card);
    };
    const pct = (v) => (v === null ? '–' : `${num(v)} %`);
    const ms = (v) => (v === null ? '–' : `${num(v)} ms`);
    mk('cpu', 'CPU', 'share of one core', [['cpu', 'cpu', pct]]);
    mk('memory', 'Memory', 'resident set', [['rss', 'rss', bytes]]);
    mk('heap', 'Heap', 'V8 heap', [['used', 'heapUsed', bytes], ['total', 'heapTotal', bytes]]);
    mk('loop', 'Event-loop delay', 'per second', [['p50', 'loopP50', ms], ['p99', 'loopP99', ms], ['max', 'loopMax', ms]]);
    mk('gc', 'Garbage collection', 'per second', [['pause', 'gcMs', ms], ['count', 'gcCount', (v) => num(v)]]);
  }

  // ---- panels -------------------------------------------------------------------

  function renderHealth(h) {
    const ul = $('health');
    ul.textContent = '';
    if (h === null || h.checks.length === 0) {
      ul.append(el('li', 'muted', 'no checks registered'));
      return;
    }
    for (const c of h.checks) {
      const li = el('li', c.ok ? 'ok' : c.critical ? 'bad' : 'warn');
      li.dataset.check = c.name;
      li.append(el('span', 'badge', c.ok ? 'ok' : 'failing'), el('strong', null, c.name), el('span', 'muted', ` ${num(c.ms)} ms${c.critical ? '' : ' · not critical'}`));
      if (c.error) li.append(el('div', 'why', c.error));
      ul.append(li);
    }
  }

  function renderAlerts(alerts) {
    const ul = $('alerts');
    ul.textContent = '';
    if (alerts.length === 0) {
      ul.append(el('li', 'muted', 'no alerts'));
      return;
    }
    for (const a of alerts) {
      const li = el('li', a.state === 'firing' ? 'bad' : a.state === 'pending' ? 'warn' : 'ok');
      li.dataset.alert = a.name;
      li.append(el('span', 'badge', a.state), el('strong', null, a.name));
      li.append(el('div', 'why', `${a.metric}${a.field ? ` ${a.field}` : ''} ${a.condition}${a.forMs > 0 ? ` for ${num(a.forMs / 1000)} s` : ''}; now ${num(a.value)}${a.since ? ` (since ${time(a.since)})` : ''}`));
      ul.append(li);
    }
  }

  async function loadErrors(total) {
    if (errorsLoading) return;
    errorsLoading = true;
    try {
      const res = await api('errors');
      if (!res.ok) return;
      const snap = await res.json();
      lastErrorTotal = total;
      renderErrors(snap);
    } catch {
      // the next frame tries again
    } finally {
      errorsLoading = false;
    }
  }

  function renderErrors(snap) {
    $('error-total').textContent = `(${snap.total} recorded)`;
    const box = $('errors');
    box.textContent = '';
    if (snap.recent.length === 0) {
      box.append(el('p', 'muted', 'none so far'));
      return;
    }
    for (const g of snap.recent) {
      const r = g.last;
      const item = el('details', 'error');
      item.dataset.fingerprint = g.fingerprint;
      const summary = el('summary');
      summary.append(el('span', 'count', `×${g.count}`), el('strong', null, `${r.name}: ${r.message}`));
      const meta = el('div', 'meta', `first ${time(g.firstSeen)} · last ${time(g.lastSeen)} · ${r.source}${r.code !== null ? ` · code ${r.code}` : ''}`);
      item.append(summary, meta);
      const context = Object.keys(r.context || {});
      if (context.length > 0) {
        const dl = el('dl', 'context');
        for (const k of context) {
          const v = r.context[k];
          dl.append(el('dt', null, k), el('dd', null, typeof v === 'string' ? v : JSON.stringify(v)));
        }
        item.append(dl);
      }
      item.append(el('pre', 'stack', r.stack || '(no stack)'));
      box.append(item);
    }
  }

  let actionsLoaded = false;
  async function loadActions() {
    if (actionsLoaded) return;
    const box = $('actions');
    try {
      const res = await api('actions');
      if (!res.ok) {
        box.textContent = `actions unavailable (${res.status})`;
        return;
      }
      const { actions } = await res.json();
      actionsLoaded = true;
      box.textContent = '';
      if (actions.length === 0) box.append(el('span', 'muted', 'none registered'));
      for (const a of actions) box.append(actionForm(a));
    } catch {
      box.textContent = 'actions unavailable';
    }
  }

  function actionForm(a) {
    const form = el('form', 'action');
    form.dataset.action = a.name;
    const fields = Object.entries(a.input || {});
    const inputs = [];
    for (const [field, type] of fields) {
      const input = el('input');
      input.name = field;
      input.placeholder = field;
      input.setAttribute('aria-label', `${a.name} ${field}`);
      if (type === 'number') {
        input.type = 'number';
        input.step = 'any';
      }
      if (type === 'boolean') input.type = 'checkbox';
      inputs.push([field, type, input]);
      form.append(input);
    }
    const button = el('button', null, a.name);
    button.type = 'submit';
    if (a.description) button.title = a.description;
    form.prepend(button);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {};
      for (const [field, type, input] of inputs) {
        if (type === 'boolean') body[field] = input.checked;
        else if (input.value !== '') body[field] = type === 'number' ? Number(input.value) : input.value;
      }
      const out = $('action-result');
      button.disabled = true;
      out.hidden = false;
      out.textContent = `${a.name}: running…`;
      try {
        const res = await api(`actions/${encodeURIComponent(a.name)}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        const disposition = res.headers.get('Content-Disposition') || '';
        const file = /filename="([^"]+)"/.exec(disposition);
        if (res.ok && file) {
          const blob = await res.blob();
          const url = URL.createObjectURL(blob);
          const link = el('a');
          link.href = url;
          link.download = file[1];
          document.body.append(link);
          link.click();
          link.remove();
          setTimeout(() => URL.revokeObjectURL(url), 10_000);
          out.textContent = `${a.name}: downloaded ${file[1]} (${num(blob.size / 1024)} KiB)`;
        } else {
          const text = await res.text();
          let shown = text;
          try {
            shown = JSON.stringify(JSON.parse(text), null, 2);
          } catch {
            // not JSON: shown as is
          }
          out.textContent = `${a.name} → ${res.status}\n${shown}`;
        }
      } catch (err) {
        out.textContent = `${a.name}: failed (${err && err.message ? err.message : err})`;
      } finally {
        button.disabled = false;
      }
    });
    return form;
  }

  // ---- rendering ----------------------------------------------------------------

  function render() {
    renderQueued = false;
    if (latest === null) return;
    processCards();
    for (const card of cards.values()) {
      card.text();
      if (visible.has(card)) queueDraw(card);
    }
    renderHealth(latest.h);
    renderAlerts(latest.a);
    if (latest.d > 0) $('probe-count').textContent = `(${countFamilies()} probes; ${latest.d} series not shown: over the series limit)`;
  }

  function countFamilies() {
    let n = 0;
    for (const key of cards.keys()) if (key.startsWith('f:') && !RUNTIME.test(key.slice(2))) n++;
    return n;
  }
  function updateCount() {
    $('probe-count').textContent = `(${countFamilies()})`;
    $('runtime-count').textContent = `(${$('runtime').childElementCount})`;
  }

  function applyFilter(card) {
    const q = $('filter').value.trim().toLowerCase();
    card.root.hidden = q !== '' && !card.key.toLowerCase().includes(q) && !card.title.toLowerCase().includes(q);
  }
  $('filter').addEventListener('input', () => {
    for (const card of cards.values()) if (card.key.startsWith('f:')) applyFilter(card);
  });

  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const card of cards.values()) card.resize();
    }, 150);
  });

  connect();
})();
