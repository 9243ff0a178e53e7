// Metric page: the stored window and the last hour with the expected band, recorded anomalies
// and feedback marked; similar metrics from oculus with small charts.
'use strict';

(function () {
  const kale = window.kale;
  const { $, el } = kale;
  const d = kale.data();
  if (!d.metric) return;

  async function charts() {
    try {
      const res = await fetch('/api/v1/series?metric=' + encodeURIComponent(d.metric));
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || res.statusText);
      const pts = body.points;
      const last = pts.length ? pts[pts.length - 1][0] : 0;
      const opts = { band: true, marks: d.anomalies, feedback: d.feedback, markLabel: 'anomaly' };
      kale.chart($('#chart-full'), pts, Object.assign({ height: 280 }, opts));
      kale.chart($('#chart-hour'), pts.filter((p) => p[0] > last - 3600), Object.assign({ height: 200 }, opts));
    } catch (e) {
      kale.toast('Cannot load the series: ' + e.message, true);
    }
  }

  async function similar() {
    const box = $('#similar');
    if (!d.similar || !box) return;
    try {
      const res = await fetch('/api/v1/search', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ metric: d.metric, k: 7 }),
      });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || res.statusText);
      const hits = (body.results || []).filter((h) => h.metric !== d.metric).slice(0, 6);
      if (!hits.length) { box.replaceChildren(el('p', { class: 'muted' }, 'No similar metric found.')); return; }
      const list = el('ol', { class: 'multiples small' });
      hits.forEach((h) => {
        const li = el('li', { class: 'hit', 'data-metric': h.metric });
        const head = el('div', { class: 'hit-head' });
        head.append(el('a', { class: 'name', href: kale.metricURL(h.metric), title: h.metric }, h.metric), el('span', { class: 'dist', title: 'distance' }, kale.fmt(h.distance)));
        li.append(head, el('div', { class: 'spark-box' }));
        list.appendChild(li);
      });
      const more = el('p', { class: 'small' });
      more.appendChild(el('a', { href: kale.searchURL(d.metric) }, 'All results, took ' + kale.fmt(body.took_ms) + ' ms →'));
      box.replaceChildren(list, more);
      const q = hits.map((h) => 'metric=' + encodeURIComponent(h.metric)).join('&');
      const sres = await fetch('/api/v1/sparklines?' + q);
      if (!sres.ok) return;
      const { sparklines } = await sres.json();
      list.querySelectorAll('li').forEach((li) => {
        const s = sparklines[li.dataset.metric];
        if (s) li.querySelector('.spark-box').appendChild(kale.sparkline(s.values, { width: 300, height: 40, label: 'last 3 hours' }));
      });
    } catch (e) {
      box.replaceChildren(el('p', { class: 'muted' }, 'Similar metrics are not available: ' + e.message));
    }
  }

  charts();
  similar();
})();
