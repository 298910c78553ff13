// gort::debug's dashboard: polls stats (about once a second) and fibers
// (every two seconds) relative to the page, /debug/gort/, and draws them.
// Rates and busy shares are computed from the server's own clock (a worker's
// busy + idle time is the time since run() started), so they stay right
// whatever the page's timers do. What it drew last is kept as JSON in
// #drawn, for the browser test.
(() => {
  'use strict';

  const POLL_MS = 1000;
  const FIBERS_MS = 2000;
  const HISTORY = 300;  // points kept: five minutes at one a second
  const MAX_ROWS = 500;  // fiber rows shown at once (the filter narrows them)
  const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2'];

  const $ = (id) => document.getElementById(id);
  const fmt = new Intl.NumberFormat('en-US', {maximumFractionDigits: 1});

  const drawn = {polls: 0, stats: null, charts: {}, workers: [], reasons: {}, fibers: null, trace: null};
  const hist = {t: [], series: {}};
  let prev = null;  // the previous sample, for rates
  let charts = null;  // made at the first sample, once the fields present are known

  // ---- samples ------------------------------------------------------------

  const sum = (arr, key) => arr.reduce((a, w) => a + (w[key] || 0), 0);

  // The numbers one stats object gives, with rates against the previous one.
  function sample(s) {
    const elapsed = s.per_worker.length ? s.per_worker[0].busy_ns + s.per_worker[0].idle_ns : 0;
    const cur = {
      elapsed,
      switches: s.switches,
      steals: s.steals,
      parks: sum(s.per_worker, 'parks'),
      handoffs: 'handoffs' in s ? s.handoffs : null,
      per: s.per_worker.map((w) => ({busy: w.busy_ns, switches: w.switches, steals: w.steals})),
    };
    const dt = prev ? (cur.elapsed - prev.elapsed) / 1e9 : 0;
    const rate = (a, b) => (dt > 0 && a !== null && b !== null ? Math.max(0, (a - b) / dt) : null);
    const out = {
      live: s.live,
      runnable: s.runnable,
      blocked: s.blocked,
      workers: s.workers,
      threads: 'threads' in s ? s.threads : null,
      switches: prev ? rate(cur.switches, prev.switches) : null,
      steals: prev ? rate(cur.steals, prev.steals) : null,
      parks: prev ? rate(cur.parks, prev.parks) : null,
      handoffs: prev ? rate(cur.handoffs, prev.handoffs) : null,
      per_worker: s.per_worker.map((w, i) => {
        const p = prev && prev.per[i];
        const d = p && dt > 0 ? cur.elapsed - prev.elapsed : 0;
        return {
          busy: d > 0 ? Math.min(1, Math.max(0, (w.busy_ns - p.busy) / d)) : null,
          run_queue: w.run_queue,
          switches: p ? rate(w.switches, p.switches) : null,
          steals: p ? rate(w.steals, p.steals) : null,
        };
      }),
    };
    prev = cur;
    return out;
  }

  // ---- charts -------------------------------------------------------------

  function chart(el, names) {
    const value = (u, v) => (v == null ? '-' : fmt.format(v));
    const series = [{}].concat(names.map((n, i) => ({label: n, stroke: COLORS[i % COLORS.length], width: 2, value})));
    for (const n of names) hist.series[n] = hist.series[n] || [];
    const opts = {
      width: Math.max(300, el.clientWidth - 24),
      height: 200,
      series,
      scales: {x: {time: true}},
      axes: [{}, {size: 64, values: (u, vals) => vals.map((v) => fmt.format(v))}],
      legend: {live: true},
    };
    const u = new uPlot(opts, [hist.t].concat(names.map((n) => hist.series[n])), el);
    return {el, names, u};
  }

  function makeCharts(first) {
    const rates = ['switches', 'steals', 'parks'];
    if (first.handoffs !== undefined && 'handoffs' in drawn.stats) rates.push('handoffs');
    const threads = ['workers'];
    if ('threads' in drawn.stats) threads.push('threads');
    return {
      fibers: chart($('chart-fibers'), ['live', 'runnable', 'blocked']),
      rates: chart($('chart-rates'), rates),
      threads: chart($('chart-threads'), threads),
    };
  }

  // Pixels of the chart's canvas in its series' colours: the browser test's
  // proof that lines were drawn (axes and grid are grey).
  function ink(c) {
    const canvas = c.u.ctx.canvas;
    if (!canvas.width || !canvas.height) return 0;
    const rgbs = c.names.map((n, k) => [1, 3, 5].map((i) => parseInt(COLORS[k % COLORS.length].slice(i, i + 2), 16)));
    const px = c.u.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] <= 128) continue;
      if (rgbs.some((rgb) => Math.abs(px[i] - rgb[0]) + Math.abs(px[i + 1] - rgb[1]) + Math.abs(px[i + 2] - rgb[2]) < 60))
        ++n;
    }
    return n;
  }

  function record(x) {
    hist.t.push(Date.now() / 1000);
    for (const name of Object.keys(hist.series)) hist.series[name].push(x[name] ?? null);
    if (hist.t.length > HISTORY) {
      hist.t.shift();
      for (const s of Object.values(hist.series)) s.shift();
    }
    for (const [key, c] of Object.entries(charts)) {
      c.u.setData([hist.t].concat(c.names.map((n) => hist.series[n])));
      // The legend shows the newest values unless the pointer is on the chart.
      if (c.u.cursor.left == null || c.u.cursor.left < 0) c.u.setLegend({idx: hist.t.length - 1});
      const last = {};
      for (const n of c.names) last[n] = hist.series[n][hist.series[n].length - 1];
      drawn.charts[key] = {points: hist.t.length, series: c.names, last, ink: ink(c)};
    }
  }

  window.addEventListener('resize', () => {
    if (!charts) return;
    for (const c of Object.values(charts)) c.u.setSize({width: Math.max(300, c.el.clientWidth - 24), height: 200});
  });

  // ---- tables -------------------------------------------------------------

  function cell(tr, text, cls) {
    const td = tr.insertCell();
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function bar(tr, share, label) {
    const td = tr.insertCell();
    const b = document.createElement('div');
    b.className = 'bar';
    const fill = document.createElement('span');
    fill.style.width = (100 * Math.max(0, Math.min(1, share))).toFixed(1) + '%';
    const t = document.createElement('b');
    t.textContent = label;
    b.append(fill, t);
    td.append(b);
  }

  const rateText = (v) => (v === null ? '-' : fmt.format(v));

  function drawWorkers(x) {
    const body = $('workers-table').tBodies[0];
    body.replaceChildren();
    drawn.workers = x.per_worker.map((w, i) => {
      const tr = body.insertRow();
      tr.dataset.worker = i;
      cell(tr, String(i));
      bar(tr, w.busy || 0, w.busy === null ? '-' : (100 * w.busy).toFixed(0) + '%');
      cell(tr, String(w.run_queue), 'num');
      cell(tr, rateText(w.switches), 'num');
      cell(tr, rateText(w.steals), 'num');
      return {busy: w.busy, run_queue: w.run_queue};
    });
  }

  function drawReasons(s) {
    const body = $('reasons-table').tBodies[0];
    body.replaceChildren();
    const rows = Object.entries(s.blocked_by_reason).sort((a, b) => b[1] - a[1]);
    const max = rows.length ? rows[0][1] : 1;
    drawn.reasons = {};
    for (const [reason, n] of rows) {
      const tr = body.insertRow();
      cell(tr, reason);
      bar(tr, n / max, String(n));
      drawn.reasons[reason] = n;
    }
    $('reasons-empty').hidden = rows.length > 0;
  }

  function drawSummary(s, x) {
    const secs = (s.per_worker.length ? s.per_worker[0].busy_ns + s.per_worker[0].idle_ns : 0) / 1e9;
    $('uptime').textContent = secs < 120 ? secs.toFixed(0) + ' s' : (secs / 60).toFixed(1) + ' min';
    $('workers').textContent = s.workers;
    $('live').textContent = s.live;
    $('spawned').textContent = s.spawned;
    $('switch-rate').textContent = rateText(x.switches);
    if ('threads' in s) {
      $('threads-box').hidden = false;
      $('threads').textContent = s.threads;
    }
  }

  // ---- fibers ---------------------------------------------------------------

  // "10-12, 15" -> [10, 11, 12, 15]
  function expandIds(ranges) {
    const ids = [];
    for (const r of ranges.split(', ')) {
      const [a, b] = r.split('-').map(Number);
      for (let id = a; id <= (b || a); ++id) ids.push(id);
    }
    return ids;
  }

  // The dump's blocks ("goroutine N [state, for, system]:", its call stack, who
  // made it), and the lines that fold fibers with the same stack as one shown
  // ("N more goroutines [state] with the same stack as goroutine K: ids").
  function parseDump(text) {
    const fibers = [];
    for (const block of text.split(/\n\s*\n/)) {
      const lines = block.split('\n').filter((l) => l.length);
      const more = lines.length && /^\d+ more goroutines \[[^\]]*\] with the same stack as goroutine (\d+): (.*)$/.exec(lines[0]);
      if (more) {
        const like = fibers.find((x) => x.id === Number(more[1]));
        if (like) for (const id of expandIds(more[2])) fibers.push({...like, id, for: '', text: lines[0]});
        continue;
      }
      const m = lines.length && /^goroutine (\d+) \[([^\]]*)\]:$/.exec(lines[0]);
      if (!m) continue;
      const parts = m[2].split(', ');
      const f = {id: Number(m[1]), state: parts[0], for: '', system: false, where: '', created: '', text: block};
      for (const p of parts.slice(1)) {
        if (p === 'system') f.system = true;
        else if (/^\d/.test(p)) f.for = p;
      }
      for (const l of lines.slice(1)) {
        const c = /^created by goroutine \d+ at (.*)$/.exec(l);
        if (c) f.created = c[1];
        else if (!f.where && l.startsWith('\t') && !l.startsWith('\theld by')) f.where = l.trim();
      }
      fibers.push(f);
    }
    return fibers;
  }

  let fibers = [];

  function drawFibers() {
    const q = $('fiber-filter').value.trim().toLowerCase();
    const match = (f) => !q || [String(f.id), f.state, f.for, f.where, f.created, f.system ? 'system' : '']
        .some((v) => v.toLowerCase().includes(q));
    const shown = fibers.filter(match);
    const body = $('fiber-table').tBodies[0];
    body.replaceChildren();
    for (const f of shown.slice(0, MAX_ROWS)) {
      const tr = body.insertRow();
      tr.dataset.id = f.id;
      tr.title = f.text;
      if (f.system) tr.className = 'system';
      cell(tr, String(f.id));
      const st = cell(tr, f.state);
      if (f.system) {
        const tag = document.createElement('span');
        tag.className = 'tag';
        tag.textContent = 'system';
        st.append(tag);
      }
      cell(tr, f.for || '-');
      cell(tr, f.where || '-');
      cell(tr, f.created || '-');
    }
    $('fiber-count').textContent = shown.length > MAX_ROWS
        ? `${shown.length} of ${fibers.length} (first ${MAX_ROWS} shown)`
        : `${shown.length} of ${fibers.length}`;
    drawn.fibers = {
      total: fibers.length,
      shown: Math.min(shown.length, MAX_ROWS),
      rows: shown.slice(0, MAX_ROWS).map((f) => ({id: f.id, state: f.state, system: f.system, created: f.created})),
    };
    publish();
  }

  $('fiber-filter').addEventListener('input', drawFibers);

  async function pollFibers() {
    try {
      const r = await fetch('fibers', {cache: 'no-store'});
      if (r.ok) {
        fibers = parseDump(await r.text());
        drawFibers();
      }
    } catch (e) {
      // The stats poll reports the connection state.
    }
    setTimeout(pollFibers, FIBERS_MS);
  }

  // ---- the stats poll ---------------------------------------------------------

  function setStatus(text, ok) {
    const el = $('status');
    el.textContent = text;
    el.className = 'status ' + (ok ? 'ok' : 'bad');
  }

  function publish() {
    $('drawn').textContent = JSON.stringify(drawn);
  }

  async function pollStats() {
    try {
      const r = await fetch('stats', {cache: 'no-store'});
      if (!r.ok) throw new Error(`${r.status} ${(await r.text()).trim()}`);
      const s = await r.json();
      drawn.stats = s;
      const x = sample(s);
      if (!charts) charts = makeCharts(x);
      record(x);
      drawSummary(s, x);
      drawWorkers(x);
      drawReasons(s);
      drawn.polls += 1;
      setStatus('live', true);
      publish();
    } catch (e) {
      setStatus('disconnected: ' + e.message, false);
    }
    setTimeout(pollStats, POLL_MS);
  }

  // ---- traces -------------------------------------------------------------------

  // Records a trace of `seconds`; downloads it, or with `link` only offers
  // a link to it (#trace=N in the page's address records one on load).
  async function recordTrace(seconds, link) {
    const button = $('trace-button');
    const status = $('trace-status');
    button.disabled = true;
    status.textContent = `recording ${seconds} s...`;
    try {
      const r = await fetch(`trace?seconds=${seconds}`, {cache: 'no-store'});
      if (!r.ok) {
        status.textContent = `${r.status}: ${(await r.text()).trim()}`;
        drawn.trace = {status: r.status};
        return;
      }
      const blob = await r.blob();
      const events = JSON.parse(await blob.text()).traceEvents.length;
      drawn.trace = {status: r.status, bytes: blob.size, events};
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `gort-trace-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
      a.textContent = `save ${a.download}`;
      status.textContent = `${events} events, ${fmt.format(blob.size / 1024)} KiB (open in ui.perfetto.dev) `;
      if (link) status.append(a);
      else a.click();
    } catch (e) {
      status.textContent = 'failed: ' + e.message;
      drawn.trace = {status: 0, error: e.message};
    } finally {
      button.disabled = false;
      publish();
    }
  }

  $('trace-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const n = Number($('trace-seconds').value);
    if (!Number.isInteger(n) || n < 1 || n > 60) {
      $('trace-status').textContent = 'seconds: a whole number from 1 to 60';
      return;
    }
    recordTrace(n, false);
  });

  pollStats();
  pollFibers();
  const auto = /^#trace=(\d+)$/.exec(location.hash);
  if (auto) recordTrace(Number(auto[1]), true);
})();
