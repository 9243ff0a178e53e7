// Dashboard: the current anomalies with live refresh (polling /api/v1/anomalies), sorting, a
// name filter, keyboard selection, lazily loaded sparklines and the selected metric's 1-hour
// and 24-hour charts.
'use strict';

(function () {
  const { $, $$, el } = window.kale;
  const kale = window.kale;
  const POLL_MS = 10000;
  const tbody = $('#anomalies tbody');
  if (!tbody) return;

  const toRecord = (a) => ({
    metric: a.metric, value: a.value, timestamp: a.timestamp, score: a.score, triggered: a.triggered || [],
    explanation: a.explanation && a.explanation.lower !== null ? a.explanation : null,
  });
  let records = (kale.data().anomalies || []).map(toRecord);
  const summary = (t) => (t.length === 0 ? '' : t.length <= 2 ? t.join(', ') : t.length + ' detectors');
  let sortKey = 'score', sortDir = -1, filter = '', selected = null, etag = null;
  const sparkCache = new Map(); // metric -> {at, data}

  // --- rendering -----------------------------------------------------------------------------
  function visible() {
    const f = filter.toLowerCase();
    const rows = f ? records.filter((r) => r.metric.toLowerCase().includes(f)) : records.slice();
    const byName = (a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0);
    rows.sort((a, b) => {
      const c = sortKey === 'metric' ? byName(a, b) : (a[sortKey] || 0) - (b[sortKey] || 0);
      return c * sortDir || byName(a, b);
    });
    return rows;
  }

  function rowFor(r) {
    const tr = el('tr', { 'data-metric': r.metric });
    const name = el('td', { class: 'name' });
    name.appendChild(el('a', { href: kale.metricURL(r.metric), title: r.metric }, r.metric));
    const when = el('td');
    when.appendChild(el('time', { datetime: new Date(r.timestamp * 1000).toISOString(), title: kale.clock(r.timestamp) }, kale.ago(r.timestamp)));
    const score = el('td', { title: r.triggered.join(', ') });
    score.appendChild(el('meter', { min: 0, max: 1, low: 0.5, high: 0.8, optimum: 0, value: r.score }));
    score.appendChild(document.createTextNode(' ' + Math.round(100 * r.score) + '% '));
    score.appendChild(el('span', { class: 'muted small' }, summary(r.triggered)));
    const band = el('td', { class: 'num band' }, r.explanation ? kale.short(r.explanation.lower) + ' … ' + kale.short(r.explanation.upper) : '');
    tr.append(name, el('td', { class: 'num' }, kale.fmt(r.value)), when, score, band, el('td', { class: 'spark' }));
    return tr;
  }

  function render() {
    const rows = visible();
    const frag = document.createDocumentFragment();
    rows.forEach((r) => frag.appendChild(rowFor(r)));
    tbody.replaceChildren(frag);
    $('#count').textContent = String(records.length);
    $('#empty').hidden = records.length > 0;
    $('#table-wrap').hidden = records.length === 0;
    $('#charts').hidden = records.length === 0;
    $('#dash').classList.toggle('empty-state', records.length === 0);
    $$('#anomalies th button').forEach((b) => {
      if (b.dataset.sort === sortKey) b.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
      else b.removeAttribute('aria-sort');
    });
    if (selected) {
      const tr = rowByName(selected);
      if (tr) tr.classList.add('selected');
    }
    observeSparks();
  }

  function rowByName(name) {
    return $$('tr', tbody).find((tr) => tr.dataset.metric === name) || null;
  }

  // --- selection and charts ------------------------------------------------------------------
  let seriesAbort = null;
  async function select(name, scroll) {
    if (!name) return;
    selected = name;
    $$('tr.selected', tbody).forEach((tr) => tr.classList.remove('selected'));
    const tr = rowByName(name);
    if (tr) {
      tr.classList.add('selected');
      if (scroll) tr.scrollIntoView({ block: 'nearest' });
    }
    const rec = records.find((r) => r.metric === name);
    $('#sel-name').textContent = name;
    $('#sel-actions').hidden = false;
    $('#sel-open').setAttribute('href', kale.metricURL(name));
    $('#sel-similar').setAttribute('href', kale.searchURL(name));
    $('#sel-meta').textContent = rec
      ? `Value ${kale.fmt(rec.value)} at ${kale.clock(rec.timestamp)} · score ${Math.round(100 * rec.score)}% · ${rec.triggered.join(', ') || '—'}` +
        (rec.explanation ? ` · Kale's ${rec.explanation.component} component expected ${kale.short(rec.explanation.lower)} … ${kale.short(rec.explanation.upper)}` : '')
      : '';
    if (seriesAbort) seriesAbort.abort();
    seriesAbort = new AbortController();
    const signal = seriesAbort.signal;
    try {
      const res = await fetch('/api/v1/series?metric=' + encodeURIComponent(name) + '&from=now-25h', { signal });
      if (!res.ok) throw new Error((await res.json()).error || res.statusText);
      const { points } = await res.json();
      if (signal.aborted || selected !== name) return;
      const last = points.length ? points[points.length - 1][0] : 0;
      const hour = points.filter((p) => p[0] > last - 3600);
      const day = points.filter((p) => p[0] > last - 86400);
      const marks = rec ? [[rec.timestamp, rec.value]] : [];
      kale.chart($('#chart1h'), hour, { band: true, marks, height: 210 });
      kale.chart($('#chart24h'), day, { band: true, marks, height: 210 });
      document.body.dataset.selected = name;
    } catch (e) {
      if (e.name !== 'AbortError') kale.toast('Cannot load ' + name + ': ' + e.message, true);
    }
  }

  function move(delta) {
    const rows = $$('tr', tbody);
    if (rows.length === 0) return;
    let i = rows.findIndex((tr) => tr.dataset.metric === selected);
    i = i < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, i + delta));
    select(rows[i].dataset.metric, true);
  }

  tbody.addEventListener('click', (ev) => {
    if (ev.target.closest('a')) return;
    const tr = ev.target.closest('tr');
    if (tr) select(tr.dataset.metric, false);
  });
  document.addEventListener('keydown', (ev) => {
    const tag = (document.activeElement || {}).tagName;
    const typing = tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT';
    if (ev.key === 'Escape' && document.activeElement === $('#filter')) {
      $('#filter').value = '';
      filter = '';
      render();
      $('#filter').blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === 'ArrowDown' || (!typing && ev.key === 'j')) { ev.preventDefault(); move(1); }
    else if (ev.key === 'ArrowUp' || (!typing && ev.key === 'k')) { ev.preventDefault(); move(-1); }
    else if (ev.key === 'Enter' && !typing && selected) { location.assign(kale.metricURL(selected)); }
  });
  $('#filter').addEventListener('input', (ev) => { filter = ev.target.value; render(); });
  $$('#anomalies th button').forEach((b) => b.addEventListener('click', () => {
    const k = b.dataset.sort;
    if (sortKey === k) sortDir = -sortDir;
    else { sortKey = k; sortDir = k === 'metric' ? 1 : -1; }
    render();
  }));

  // --- lazy sparklines -------------------------------------------------------------------------
  const pending = new Set();
  let flushTimer = null;
  const io = typeof IntersectionObserver === 'function'
    ? new IntersectionObserver((entries) => {
      entries.forEach((e) => {
        if (!e.isIntersecting) return;
        io.unobserve(e.target);
        want(e.target.dataset.metric);
      });
    }, { root: $('#table-wrap'), rootMargin: '200px' })
    : null;

  function observeSparks() {
    $$('tr', tbody).forEach((tr) => {
      const c = sparkCache.get(tr.dataset.metric);
      if (c && Date.now() - c.at < 60000) fill(tr, c.data);
      else if (io) io.observe(tr);
      else want(tr.dataset.metric);
    });
  }

  function want(name) {
    pending.add(name);
    if (!flushTimer) flushTimer = setTimeout(flush, 60);
  }

  async function flush() {
    flushTimer = null;
    const names = Array.from(pending).slice(0, 50);
    names.forEach((n) => pending.delete(n));
    if (pending.size) flushTimer = setTimeout(flush, 60);
    if (!names.length) return;
    try {
      const res = await fetch('/api/v1/sparklines?' + names.map((n) => 'metric=' + encodeURIComponent(n)).join('&'));
      if (!res.ok) return;
      const { sparklines } = await res.json();
      names.forEach((n) => {
        const d = sparklines[n];
        if (!d) return;
        sparkCache.set(n, { at: Date.now(), data: d });
        const tr = rowByName(n);
        if (tr) fill(tr, d);
      });
    } catch (e) { /* the next render retries */ }
  }

  function fill(tr, d) {
    const spark = tr.querySelector('td.spark');
    const band = tr.querySelector('td.band');
    if (!spark || spark.firstChild) return;
    spark.appendChild(kale.sparkline(d.values, { band: d.band, markLast: true, label: 'last 3 hours' }));
    if (!band.textContent && d.band && d.band.lower !== null) band.textContent = kale.short(d.band.lower) + ' … ' + kale.short(d.band.upper);
  }

  // --- live refresh ----------------------------------------------------------------------------
  async function poll() {
    const live = $('#live');
    try {
      const headers = etag ? { 'If-None-Match': etag } : {};
      const res = await fetch('/api/v1/anomalies', { headers, cache: 'no-store' });
      if (res.status === 304) { live.classList.remove('stale'); live.textContent = 'live'; return; }
      if (!res.ok) throw new Error(res.statusText);
      etag = res.headers.get('ETag');
      const doc = await res.json();
      live.classList.remove('stale');
      live.textContent = 'live';
      records = (doc.anomalies || []).map(toRecord);
      if (doc.cycle && doc.cycle.started) {
        const c = doc.cycle;
        $('#cycle').textContent = `Last analyzer cycle ${kale.ago(Date.parse(c.started) / 1000)}: ${c.analysed} of ${c.metrics} metrics analysed in ${c.duration_s.toFixed(2)} s, ${c.anomalies} anomalous` +
          (c.anomalies ? ` (${c.anomalies_new || 0} new, ${c.anomalies_carried || 0} still current from earlier cycles).` : '.');
      }
      render();
      if (!selected && records.length) select(visible()[0].metric, false);
    } catch (e) {
      live.classList.add('stale');
      live.textContent = 'offline — retrying';
    }
  }

  // The server rendered the first rows in this order (score, then name); build the rest.
  if ($$('tr', tbody).length < records.length) render();
  else observeSparks();
  const more = $('#more-rows');
  if (more) more.remove();
  if (records.length) select(visible()[0].metric, false);
  setInterval(poll, POLL_MS);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
})();
