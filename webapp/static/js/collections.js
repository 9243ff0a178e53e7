// Collections: the tray of picked metrics feeding the "new collection" form, and the frozen
// charts of a saved collection.
'use strict';

(function () {
  const kale = window.kale;
  const { $, $$, el } = kale;

  const list = $('#tray-list');
  const metrics = $('#tray-metrics');
  function showTray() {
    if (!list) return;
    const items = kale.tray.get();
    list.replaceChildren(...items.map((m) => {
      const li = el('li', {}, m);
      const b = el('button', { type: 'button', title: 'Remove ' + m, 'aria-label': 'Remove ' + m }, '✕');
      b.addEventListener('click', () => kale.tray.remove(m));
      li.appendChild(b);
      return li;
    }));
    metrics.value = items.join('\n');
    $('#tray-empty').hidden = items.length > 0;
  }
  if (list) {
    showTray();
    document.addEventListener('kale:tray', showTray);
    $('#tray-clear').addEventListener('click', () => kale.tray.clear());
  }

  const d = kale.data();
  if (d.series) {
    $$('.chart[data-series]').forEach((box) => {
      kale.chart(box, d.series[box.dataset.series] || [], { height: 130, legend: false, table: false });
    });
  }
})();
