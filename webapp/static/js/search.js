// Search page: method-dependent options, the drawing canvas for query-by-shape (63-64 values
// in 0–100, as Oculus's pencil), and small multiples of the results.
'use strict';

(function () {
  const kale = window.kale;
  const { $, $$ } = kale;
  const d = kale.data();

  // Window applies to DTW, radius to FastDTW.
  const method = $('#search_type');
  function toggle() {
    const m = method.value.toLowerCase();
    $$('[data-for]').forEach((f) => { f.hidden = f.dataset.for !== m; });
  }
  if (method) { method.addEventListener('change', toggle); toggle(); }

  // --- drawing canvas ------------------------------------------------------------------------
  const N = 64;
  const canvas = $('#draw');
  const field = $('#draw_values');
  if (canvas && field) {
    const ctx = canvas.getContext('2d');
    let vals = new Array(N).fill(null);
    let drawing = false, lastI = null, lastV = null;
    const parse = () => field.value.split(/[\s,;]+/).filter(Boolean).map(Number).filter((x) => isFinite(x));

    function paint() {
      const w = canvas.width, h = canvas.height;
      ctx.clearRect(0, 0, w, h);
      ctx.strokeStyle = kale.css('--line');
      ctx.lineWidth = 1;
      for (let g = 1; g < 4; g++) { ctx.beginPath(); ctx.moveTo(0, (g * h) / 4); ctx.lineTo(w, (g * h) / 4); ctx.stroke(); }
      const shown = vals.some((v) => v !== null) ? vals : parse();
      const n = shown.length;
      if (n < 2) {
        ctx.fillStyle = kale.css('--muted');
        ctx.font = '14px system-ui, sans-serif';
        ctx.fillText('Press and drag to draw a shape', 12, 24);
        return;
      }
      ctx.strokeStyle = kale.css('--series');
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      let started = false;
      shown.forEach((v, i) => {
        if (v === null) return;
        const x = (i / (n - 1)) * w, y = h - (Math.max(0, Math.min(100, v)) / 100) * h;
        if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }

    function at(ev) {
      const r = canvas.getBoundingClientRect();
      const i = Math.round(((ev.clientX - r.left) / r.width) * (N - 1));
      const v = 100 - ((ev.clientY - r.top) / r.height) * 100;
      return [Math.max(0, Math.min(N - 1, i)), Math.max(0, Math.min(100, v))];
    }

    function put(i, v) {
      if (lastI !== null && lastI !== i) { // interpolate between pointer events
        const step = i > lastI ? 1 : -1;
        for (let k = lastI + step; k !== i; k += step) vals[k] = lastV + ((v - lastV) * (k - lastI)) / (i - lastI);
      }
      vals[i] = v;
      lastI = i; lastV = v;
    }

    function commit() {
      const known = vals.map((v, i) => [i, v]).filter(([, v]) => v !== null);
      if (known.length < 2) return;
      const out = new Array(N);
      for (let i = 0; i < N; i++) {
        if (vals[i] !== null) { out[i] = vals[i]; continue; }
        const before = known.filter(([k]) => k < i).pop(), after = known.find(([k]) => k > i);
        if (before && after) out[i] = before[1] + ((after[1] - before[1]) * (i - before[0])) / (after[0] - before[0]);
        else out[i] = (before || after)[1];
      }
      field.value = out.map((v) => Math.round(v)).join(',');
    }

    canvas.addEventListener('pointerdown', (ev) => {
      drawing = true;
      vals = new Array(N).fill(null);
      lastI = null;
      canvas.setPointerCapture(ev.pointerId);
      put(...at(ev));
      paint();
    });
    canvas.addEventListener('pointermove', (ev) => { if (drawing) { put(...at(ev)); paint(); } });
    const end = () => { if (drawing) { drawing = false; commit(); paint(); } };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    field.addEventListener('input', () => { vals = new Array(N).fill(null); paint(); });
    $('#draw-clear').addEventListener('click', () => { vals = new Array(N).fill(null); field.value = ''; paint(); });
    $('#draw-form').addEventListener('submit', (ev) => {
      if (parse().length < 2) { ev.preventDefault(); kale.toast('Draw a shape first (or type at least two values).', true); }
    });
    // Draw at the canvas's displayed resolution.
    const fit = () => { const r = canvas.getBoundingClientRect(); if (r.width > 0) { canvas.width = Math.round(r.width); canvas.height = Math.round(r.height); paint(); } };
    new ResizeObserver(fit).observe(canvas);
    fit();
  }

  // --- results -----------------------------------------------------------------------------
  const series = d.series || {};
  $$('.chart[data-series]').forEach((box) => {
    kale.chart(box, series[box.dataset.series] || [], { height: 110, legend: false, table: false });
  });
  const q = $('#query-chart');
  if (q && d.drawn && d.drawn.length) {
    kale.chart(q, d.drawn.map((v, i) => [i, v]), { height: 110, legend: false, table: false, time: false, label: 'drawn' });
  }
})();
