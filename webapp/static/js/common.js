// Kale web UI: helpers shared by every page (charts, sparklines, authenticated posts, the
// collection tray, metric-name autocomplete, keyboard shortcuts). Plain browser JavaScript,
// no build step; uPlot is used when `make assets` built it, otherwise charts degrade to
// SVG sparklines and tables. Metric names are attacker-controlled: they only ever reach the
// DOM through textContent, attributes set with setAttribute, or encodeURIComponent.
'use strict';

(function () {
  const kale = (window.kale = {});
  const TRAY_KEY = 'kale.tray';
  const AUTH_KEY = 'kale.auth';

  kale.$ = (sel, root) => (root || document).querySelector(sel);
  kale.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  kale.csrf = () => (kale.$('meta[name="csrf-token"]') || {}).content || '';
  kale.hasCharts = () => typeof window.uPlot === 'function';
  kale.css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  kale.metricURL = (name) => '/metric/' + encodeURIComponent(name);
  kale.searchURL = (name) => '/search?query=' + encodeURIComponent(name) + '&search_type=DTW';

  kale.data = function () {
    const el = document.getElementById('page-data');
    if (!el) return {};
    try { return JSON.parse(el.textContent); } catch (e) { return {}; }
  };

  kale.el = function (tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };

  kale.fmt = function (v) {
    if (v === null || v === undefined || !isFinite(v)) return '—';
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toPrecision(4);
    if (Number.isInteger(v)) return String(v);
    return String(Math.round(v * 1e4) / 1e4);
  };

  // short formats a number compactly for axes and table cells: 4 significant digits, k/M/G/T
  // suffixes from ten thousand up.
  kale.short = function (v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return '—';
    const a = Math.abs(v);
    const units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e4, 'k']];
    for (const [n, u] of units) {
      if (a >= n) return String(Number((v / n).toPrecision(digits || 3))) + u;
    }
    if (a !== 0 && a < 1e-3) return v.toExponential(Math.max(1, (digits || 2) - 1));
    return String(Number(v.toPrecision(digits || 4)));
  };

  // axisLabels formats tick values with as few digits as keep them distinct.
  kale.axisLabels = function (vals) {
    for (let d = 3; d <= 10; d++) {
      const out = vals.map((v) => kale.short(v, d));
      if (new Set(out).size === out.length) return out;
    }
    return vals.map((v) => String(v));
  };

  kale.ago = function (unix) {
    let d = Date.now() / 1000 - unix;
    const future = d < 0;
    d = Math.abs(d);
    let s;
    if (d < 60) s = Math.floor(d) + 's';
    else if (d < 3600) s = Math.floor(d / 60) + 'm';
    else if (d < 172800) s = Math.floor(d / 3600) + 'h ' + (Math.floor(d / 60) % 60) + 'm';
    else s = Math.floor(d / 86400) + 'd';
    return future ? 'in ' + s : s + ' ago';
  };

  kale.clock = (unix) => new Date(unix * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

  // --- toast ----------------------------------------------------------------------------------
  let toastTimer;
  kale.toast = function (msg, isError) {
    const t = document.getElementById('toast');
    if (!t) return;
    t.textContent = msg;
    t.className = isError ? 'err' : '';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, isError ? 8000 : 3500);
  };

  // --- authenticated writes ---------------------------------------------------------------------
  function b64(s) {
    const bytes = new TextEncoder().encode(s);
    let bin = '';
    bytes.forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin);
  }

  function signIn(message) {
    const dlg = document.getElementById('signin');
    if (!dlg || typeof dlg.showModal !== 'function') return Promise.resolve(false);
    const form = document.getElementById('signin-form');
    const err = document.getElementById('signin-error');
    err.hidden = !message;
    err.textContent = message || '';
    form.reset();
    return new Promise((resolve) => {
      dlg.addEventListener('close', function onClose() {
        dlg.removeEventListener('close', onClose);
        if (dlg.returnValue !== 'ok') return resolve(false);
        const fd = new FormData(form);
        const token = String(fd.get('token') || '').trim();
        const user = String(fd.get('user') || '');
        if (token) sessionStorage.setItem(AUTH_KEY, 'Bearer ' + token);
        else if (user) sessionStorage.setItem(AUTH_KEY, 'Basic ' + b64(user + ':' + String(fd.get('password') || '')));
        else return resolve(false);
        resolve(true);
      });
      dlg.showModal();
    });
  }

  // post sends a JSON body with the CSRF token and any credentials this tab signed in with;
  // on 401 it asks for credentials and retries. Resolves to the decoded JSON answer, rejects
  // with an Error carrying the server's message.
  kale.post = async function (url, body, retried) {
    const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': kale.csrf(), 'X-Requested-With': 'kale-ui', Accept: 'application/json' };
    const auth = sessionStorage.getItem(AUTH_KEY);
    if (auth) headers.Authorization = auth;
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), credentials: 'same-origin' });
    let answer = {};
    try { answer = await res.json(); } catch (e) { /* empty body */ }
    if (res.status === 401 && (retried || 0) < 3) {
      if (auth) sessionStorage.removeItem(AUTH_KEY);
      const ok = await signIn(auth ? 'Those credentials were refused.' : '');
      if (ok) return kale.post(url, body, (retried || 0) + 1);
    }
    if (!res.ok) {
      const e = new Error(answer.error || res.status + ' ' + res.statusText);
      e.status = res.status;
      throw e;
    }
    return answer;
  };

  // Forms marked data-api-form post through kale.post (JSON, CSRF header, sign-in on 401).
  // Without JavaScript they still post as forms, with the _csrf field.
  function formBody(form) {
    const body = {};
    for (const [k, v] of new FormData(form).entries()) {
      if (k === '_csrf') continue;
      if (k === 'metrics') body.metrics = String(v).split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
      else if (k === 'timestamp') body.timestamp = Number(v);
      else body[k] = String(v);
    }
    return body;
  }
  document.addEventListener('submit', async (ev) => {
    const form = ev.target;
    if (!form.matches('form[data-api-form]')) return;
    ev.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const button = form.querySelector('button:not([type=button])');
    if (button) button.disabled = true;
    try {
      const answer = await kale.post(form.getAttribute('action'), formBody(form));
      const go = form.dataset.go;
      if (go === 'collection' && answer.name) {
        if (form.id === 'new-collection') kale.tray.clear();
        location.assign('/collection/' + encodeURIComponent(answer.name));
      } else if (go) {
        location.assign(go);
      } else if (form.hasAttribute('data-reload')) {
        location.reload();
      } else {
        kale.toast('Saved.');
      }
    } catch (e) {
      kale.toast(e.message, true);
    } finally {
      if (button) button.disabled = false;
    }
  });

  // --- collection tray (localStorage) ------------------------------------------------------------
  kale.tray = {
    get() {
      try { const v = JSON.parse(localStorage.getItem(TRAY_KEY) || '[]'); return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []; } catch (e) { return []; }
    },
    set(list) { localStorage.setItem(TRAY_KEY, JSON.stringify(list.slice(0, 1000))); kale.tray.show(); document.dispatchEvent(new Event('kale:tray')); },
    add(name) { const l = kale.tray.get(); if (!l.includes(name)) l.push(name); kale.tray.set(l); kale.toast('Added to the collection tray: ' + name); },
    remove(name) { kale.tray.set(kale.tray.get().filter((x) => x !== name)); },
    clear() { kale.tray.set([]); },
    show() {
      const n = kale.tray.get().length;
      const t = document.getElementById('tray');
      if (!t) return;
      t.hidden = n === 0;
      document.getElementById('tray-count').textContent = String(n);
    },
  };
  document.addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-add-tray]');
    if (b) kale.tray.add(b.getAttribute('data-add-tray'));
  });

  // --- autocomplete over metric names ----------------------------------------------------------
  let acTimer, acSeq = 0;
  document.addEventListener('input', (ev) => {
    const input = ev.target;
    if (!input.matches('input[data-autocomplete]')) return;
    clearTimeout(acTimer);
    acTimer = setTimeout(async () => {
      const v = input.value.trim();
      if (v.length < 1) return;
      const seq = ++acSeq;
      try {
        // Names containing v, those starting with it first.
        const res = await fetch('/api/v1/metrics?limit=20&q=' + encodeURIComponent(v));
        if (!res.ok || seq !== acSeq) return;
        const { metrics } = await res.json();
        const dl = document.getElementById('metric-names');
        dl.replaceChildren(...metrics.map((m) => kale.el('option', { value: m })));
      } catch (e) { /* offline: no suggestions */ }
    }, 120);
  });

  // "/" focuses the page's filter or search box.
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (document.activeElement || {}).tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') return;
    const target = kale.$('#filter') || kale.$('#q') || kale.$('.quick input');
    if (target) { ev.preventDefault(); target.focus(); target.select(); }
  });

  // --- expected band ---------------------------------------------------------------------------
  // Skyline's stddev_from_moving_average band: EWMA (com 50) ± 3 EW standard deviations of the
  // points before each point (the server's Band uses the same formula).
  kale.band = function (ys) {
    const alpha = 1 / 51;
    const lo = new Array(ys.length).fill(null), hi = new Array(ys.length).fill(null);
    let mean = null, variance = 0, n = 0;
    for (let i = 0; i < ys.length; i++) {
      if (mean !== null && n >= 10) {
        const sd = Math.sqrt(variance);
        lo[i] = mean - 3 * sd;
        hi[i] = mean + 3 * sd;
      }
      const v = ys[i];
      if (v === null || !isFinite(v)) continue;
      n++;
      if (mean === null) { mean = v; continue; }
      const d = v - mean, incr = alpha * d;
      mean += incr;
      variance = (1 - alpha) * (variance + d * incr);
    }
    return [lo, hi];
  };

  // --- sparklines (SVG, no library) ------------------------------------------------------------
  const SVGNS = 'http://www.w3.org/2000/svg';
  kale.sparkline = function (values, opt) {
    opt = opt || {};
    const w = opt.width || 110, h = opt.height || 26;
    const svg = document.createElementNS(SVGNS, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', opt.label || 'sparkline');
    const vals = values.map((v) => (v === null || !isFinite(v) ? null : v));
    const finite = vals.filter((v) => v !== null);
    if (finite.length < 2) return svg;
    let min = Math.min(...finite), max = Math.max(...finite);
    if (opt.band) { min = Math.min(min, opt.band.lower); max = Math.max(max, opt.band.upper); }
    if (max === min) { max += 1; min -= 1; }
    const pad = 2;
    const x = (i) => (i / (vals.length - 1)) * w;
    const y = (v) => h - pad - ((v - min) / (max - min)) * (h - 2 * pad);
    if (opt.band && isFinite(opt.band.lower) && isFinite(opt.band.upper)) {
      const r = document.createElementNS(SVGNS, 'rect');
      r.setAttribute('class', 'band');
      r.setAttribute('x', '0');
      r.setAttribute('width', String(w));
      r.setAttribute('y', String(y(opt.band.upper)));
      r.setAttribute('height', String(Math.max(0.5, y(opt.band.lower) - y(opt.band.upper))));
      svg.appendChild(r);
    }
    const pts = [];
    vals.forEach((v, i) => { if (v !== null) pts.push(x(i).toFixed(1) + ',' + y(v).toFixed(1)); });
    const pl = document.createElementNS(SVGNS, 'polyline');
    pl.setAttribute('points', pts.join(' '));
    svg.appendChild(pl);
    if (opt.markLast) {
      const c = document.createElementNS(SVGNS, 'circle');
      c.setAttribute('cx', String(x(vals.length - 1)));
      c.setAttribute('cy', String(y(vals[vals.length - 1] ?? finite[finite.length - 1])));
      c.setAttribute('r', '2.2');
      svg.appendChild(c);
    }
    return svg;
  };

  // --- charts (uPlot) ------------------------------------------------------------------------
  // chart draws points [[ts, v], …] into el: the value line, the expected band (opt.band),
  // marked points opt.marks [[ts, v], …] (anomalies, red) and opt.feedback [ts, …] (purple).
  // Without uPlot it draws an SVG sparkline and a small table of the latest points.
  kale.chart = function (el, pts, opt) {
    opt = opt || {};
    if (el._plot) { el._plot.destroy(); el._plot = null; }
    if (el._ro) { el._ro.disconnect(); el._ro = null; }
    el.replaceChildren();
    el.classList.remove('nodata');
    if (!pts || pts.length === 0) { el.classList.add('nodata'); return null; }
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    if (!kale.hasCharts()) {
      el.appendChild(kale.sparkline(ys, { width: 600, height: opt.height || 160, markLast: !!opt.marks, label: 'chart' }));
      if (opt.table !== false) {
        const t = kale.el('table', { class: 'grid compact' });
        const tb = kale.el('tbody');
        pts.slice(-5).reverse().forEach((p) => {
          const tr = kale.el('tr');
          tr.append(kale.el('td', {}, opt.time === false ? String(p[0]) : kale.clock(p[0])), kale.el('td', { class: 'num' }, kale.fmt(p[1])));
          tb.appendChild(tr);
        });
        t.appendChild(tb);
        el.appendChild(t);
      }
      return null;
    }
    const data = [xs, ys];
    const series = [{}, { label: opt.label || 'value', stroke: kale.css('--series'), width: 1.5, points: { show: false }, value: (u, v) => kale.fmt(v) }];
    const bands = [];
    if (opt.band) {
      const [lo, hi] = kale.band(ys);
      // Keep the band within the data's range (padded), so a band that widens after a spike
      // does not squash the chart.
      const finite = ys.filter((v) => v !== null && isFinite(v));
      const ymin = Math.min(...finite), ymax = Math.max(...finite), pad = (ymax - ymin) * 0.15 || 1;
      for (let i = 0; i < lo.length; i++) {
        if (lo[i] !== null) lo[i] = Math.max(lo[i], ymin - pad);
        if (hi[i] !== null) hi[i] = Math.min(hi[i], ymax + pad);
      }
      el.classList.add('has-band');
      data.push(lo, hi);
      series.push({ label: 'expected ≥', stroke: 'transparent', width: 0, points: { show: false }, value: (u, v) => kale.fmt(v) });
      series.push({ label: 'expected ≤', stroke: 'transparent', width: 0, points: { show: false }, value: (u, v) => kale.fmt(v) });
      bands.push({ series: [3, 2], fill: kale.css('--band') });
    }
    const nearest = (ts) => {
      let lo = 0, hi = xs.length - 1;
      if (ts < xs[0] - 120 || ts > xs[hi] + 120) return -1;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (xs[mid] < ts) lo = mid + 1; else hi = mid; }
      if (lo > 0 && Math.abs(xs[lo - 1] - ts) < Math.abs(xs[lo] - ts)) lo--;
      return lo;
    };
    const pointSeries = (label, color, items) => {
      const col = new Array(xs.length).fill(null);
      let any = false;
      items.forEach(([ts, v]) => { const i = nearest(ts); if (i >= 0) { col[i] = v === null || v === undefined ? ys[i] : v; any = true; } });
      if (!any) return;
      data.push(col);
      series.push({ label, stroke: color, fill: color, width: 0, paths: () => null, points: { show: true, size: 9, width: 1, stroke: color, fill: color }, value: (u, v) => (v === null ? '' : kale.fmt(v)) });
    };
    if (opt.marks && opt.marks.length) pointSeries(opt.markLabel || 'anomaly', kale.css('--mark'), opt.marks);
    if (opt.feedback && opt.feedback.length) pointSeries('not anomalous', kale.css('--fb'), opt.feedback.map((ts) => [ts, null]));
    const axis = { stroke: kale.css('--muted'), grid: { stroke: kale.css('--line'), width: 1 }, ticks: { stroke: kale.css('--line'), width: 1 } };
    const width = Math.max(200, el.clientWidth || 600);
    const small = (opt.height || 200) < 150;
    const xAxis = Object.assign({}, axis);
    if (small) {
      xAxis.size = 24;
      if (opt.time !== false) {
        const two = (n) => String(n).padStart(2, '0');
        xAxis.values = (u, vals) => vals.map((v) => { const d = new Date(v * 1000); return two(d.getHours()) + ':' + two(d.getMinutes()); });
      }
    }
    const o = {
      width, height: opt.height || 200,
      scales: { x: { time: opt.time !== false } },
      series, bands,
      axes: [xAxis, Object.assign({
        // Wide enough for the longest tick label (uPlot passes the formatted labels).
        size: (u, labels) => Math.max(small ? 36 : 48, 14 + 7.2 * Math.max(0, ...(labels || []).map((l) => String(l).length))),
        values: (u, vals) => kale.axisLabels(vals),
      }, axis)],
      legend: { show: opt.legend !== false, live: true },
      cursor: { drag: { x: true, y: false, setScale: true }, focus: { prox: 16 } },
    };
    const plot = new window.uPlot(o, data, el);
    el._plot = plot;
    if (typeof ResizeObserver === 'function') {
      let last = width;
      el._ro = new ResizeObserver(() => {
        const w = Math.max(200, el.clientWidth);
        if (Math.abs(w - last) > 4) { last = w; plot.setSize({ width: w, height: o.height }); }
      });
      el._ro.observe(el);
    }
    return plot;
  };

  document.addEventListener('DOMContentLoaded', () => kale.tray.show());
})();
