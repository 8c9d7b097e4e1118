// The grid's layout by hand (views/partials/grid.ejs, server/web/grid_layout.ts): drag a
// header to move its column, drag a header's right edge to resize it, and frozen columns
// kept at the left. Each change asks for the grid again with the layout in its URL
// (order=..., widths=...), so it applies at once and shows "unsaved changes" like a
// filter; Save writes it into the view. The same moves are links in each header's menu
// (no JavaScript needed, and the keyboard's way). Styles are set through the CSSOM: the
// CSP allows no style attribute.
(function () {
  'use strict';
  const MIN_WIDTH = 40;
  const MAX_WIDTH = 2000;
  const csv = (s) => (s ? s.split(',').filter(Boolean) : []);

  /** The grid again, with the layout changed: `change` has order (a list) or widths ({column: px}). */
  function relayout(table, change) {
    const url = new URL(table.dataset.gridHref, window.location.href);
    if (change.order) url.searchParams.set('order', change.order.join(','));
    if (change.widths) url.searchParams.set('widths', Object.entries(change.widths).map(([c, w]) => c + ':' + w).join(','));
    url.searchParams.delete('page');
    if (window.htmx) window.htmx.ajax('GET', url.pathname + url.search, { source: table, target: '#grid', swap: 'outerHTML' });
  }

  function setWidth(th, w) {
    th.style.width = w + 'px';
    th.style.minWidth = w + 'px';
    th.style.maxWidth = w + 'px';
  }

  /** Saved widths (data-width), then frozen columns' offsets (they depend on the widths). */
  function applyLayout(root) {
    (root || document).querySelectorAll('table[data-grid]').forEach((table) => {
      table.querySelectorAll('thead th.field-head').forEach((th) => {
        th.draggable = true;
        th.querySelectorAll('a').forEach((a) => (a.draggable = false));
        const w = Number(th.dataset.width);
        if (w > 0) setWidth(th, w);
      });
      applyFrozen(table);
    });
  }

  /**
   * The first N field columns stick at the left, and with them every column before them
   * (the check box, the row id, the row menu): each at the sum of the widths before it, so
   * that they sit side by side and nothing scrolls into a gap between them. Widths, not
   * offsetLeft: a stuck cell's offsetLeft moves with the scroll.
   */
  function applyFrozen(table) {
    const n = Number(table.dataset.frozen || 0);
    table.querySelectorAll('.frozen, .frozen-last').forEach((c) => {
      c.classList.remove('frozen', 'frozen-last');
      c.style.left = '';
    });
    if (!n) return;
    const headRow = table.tHead && table.tHead.rows[0];
    if (!headRow) return;
    const heads = Array.from(headRow.querySelectorAll('th.field-head')).slice(0, n);
    if (!heads.length) return;
    const lastIndex = heads[heads.length - 1].cellIndex;
    const at = [];
    let left = 0;
    for (let i = 0; i <= lastIndex; i++) {
      at.push([i, left]);
      left += headRow.cells[i].getBoundingClientRect().width;
    }
    const rows = [headRow, ...Array.from(table.tBodies[0] ? table.tBodies[0].rows : [])].filter((r) => r.cells.length === headRow.cells.length);
    for (const row of rows) {
      at.forEach(([index, x], i) => {
        const cell = row.cells[index];
        cell.classList.add('frozen');
        if (i === at.length - 1) cell.classList.add('frozen-last');
        cell.style.left = x + 'px';
      });
    }
  }

  // ---- drag a header to move its column
  let dragging = null;
  const headOf = (el) => el && el.closest && el.closest('table[data-grid] thead th.field-head');
  const side = (th, event) => {
    const r = th.getBoundingClientRect();
    return event.clientX < r.left + r.width / 2 ? 'before' : 'after';
  };
  const clearMarks = () => document.querySelectorAll('.drop-before, .drop-after').forEach((th) => th.classList.remove('drop-before', 'drop-after'));

  document.addEventListener('dragstart', (event) => {
    const th = headOf(event.target);
    if (!th) return;
    if (event.target.closest('.col-resize, details')) return void event.preventDefault();
    dragging = th.dataset.column;
    event.dataTransfer.effectAllowed = 'move';
    event.dataTransfer.setData('text/plain', dragging);
  });
  document.addEventListener('dragover', (event) => {
    const th = headOf(event.target);
    if (!th || !dragging || th.dataset.column === dragging) return;
    event.preventDefault();
    clearMarks();
    th.classList.add('drop-' + side(th, event));
  });
  document.addEventListener('drop', (event) => {
    const th = headOf(event.target);
    const column = dragging;
    clearMarks();
    dragging = null;
    if (!th || !column || th.dataset.column === column) return;
    event.preventDefault();
    const table = th.closest('table[data-grid]');
    const order = csv(table.dataset.layoutOrder).filter((c) => c !== column);
    const at = order.indexOf(th.dataset.column) + (side(th, event) === 'after' ? 1 : 0);
    order.splice(at, 0, column);
    relayout(table, { order });
  });
  document.addEventListener('dragend', () => {
    dragging = null;
    clearMarks();
  });

  // ---- drag a header's right edge to resize its column
  document.addEventListener('pointerdown', (event) => {
    const handle = event.target.closest && event.target.closest('[data-resize]');
    const th = handle && headOf(handle);
    if (!th || event.button !== 0) return;
    event.preventDefault();
    event.stopPropagation();
    const table = th.closest('table[data-grid]');
    const startX = event.clientX;
    const startWidth = th.getBoundingClientRect().width;
    let width = Math.round(startWidth);
    th.draggable = false;
    th.classList.add('resizing');
    handle.setPointerCapture(event.pointerId);
    const onMove = (e) => {
      width = Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, startWidth + e.clientX - startX)));
      setWidth(th, width);
    };
    const onUp = () => {
      handle.removeEventListener('pointermove', onMove);
      handle.removeEventListener('pointerup', onUp);
      handle.removeEventListener('pointercancel', onUp);
      th.classList.remove('resizing');
      th.draggable = true;
      if (Math.abs(width - Math.round(startWidth)) < 2) return;
      const widths = widthsOf(table);
      widths[th.dataset.column] = width;
      relayout(table, { widths });
    };
    handle.addEventListener('pointermove', onMove);
    handle.addEventListener('pointerup', onUp);
    handle.addEventListener('pointercancel', onUp);
  });
  /** The layout's widths (data-layout-widths, "col:px,..."), as {column: px}. */
  function widthsOf(table) {
    const widths = {};
    for (const pair of csv(table.dataset.layoutWidths)) {
      const i = pair.lastIndexOf(':');
      widths[pair.slice(0, i)] = Number(pair.slice(i + 1));
    }
    return widths;
  }

  // ---- the keyboard's resize: Alt+ArrowRight / Alt+ArrowLeft on a header (its sort link
  // or menu) widens or narrows its column by 20 px (Shift: 60 px) at once; the grid is
  // asked for again with the new width once the keys stop (400 ms), the focus kept there.
  let keyResize = null;
  let refocusHead = null;
  document.addEventListener('keydown', (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight')) return;
    const th = headOf(event.target);
    if (!th) return;
    event.preventDefault();
    const table = th.closest('table[data-grid]');
    const step = (event.shiftKey ? 60 : 20) * (event.key === 'ArrowRight' ? 1 : -1);
    const width = Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, th.getBoundingClientRect().width + step)));
    setWidth(th, width);
    applyFrozen(table);
    if (keyResize) clearTimeout(keyResize.timer);
    const widths = Object.assign(widthsOf(table), keyResize && keyResize.table === table ? keyResize.widths : {});
    widths[th.dataset.column] = width;
    keyResize = {
      table,
      widths,
      timer: setTimeout(() => {
        keyResize = null;
        refocusHead = th.dataset.column;
        relayout(table, { widths });
      }, 400),
    };
  });
  document.addEventListener('htmx:afterSettle', () => {
    if (!refocusHead) return;
    const column = refocusHead;
    refocusHead = null;
    const th = Array.from(document.querySelectorAll('table[data-grid] thead th.field-head')).find((h) => h.dataset.column === column);
    const target = th && (th.querySelector('a') || th.querySelector('summary'));
    if (target) target.focus();
  });

  // A click on the edge is no sort.
  document.addEventListener('click', (event) => {
    if (event.target.closest && event.target.closest('[data-resize]')) event.preventDefault();
  }, true);

  // ---- menus kept in hand across the swap: the "Hide fields" menu stays open (several
  // fields are hidden one after another), and a column moved from its menu keeps the focus
  // on that menu, open, so that Move left/right can be pressed again.
  let keep = null;
  document.addEventListener('htmx:beforeRequest', (event) => {
    const el = event.detail.elt;
    if (!el || !el.closest) return;
    const fields = el.closest('[data-fields-menu]');
    if (fields) {
      const focused = document.activeElement;
      keep = { fields: true, show: focused && focused.matches && focused.matches('[data-show-field]') ? focused.value : null };
      return;
    }
    const move = el.closest('.col-menu a[data-move]');
    if (move) keep = { column: move.closest('th').dataset.column, move: move.dataset.move };
  });
  document.addEventListener('htmx:afterSettle', () => {
    if (!keep) return;
    const k = keep;
    keep = null;
    if (k.fields) {
      const menu = document.querySelector('[data-fields-menu]');
      if (!menu) return;
      menu.open = true;
      const box = k.show !== null && Array.from(menu.querySelectorAll('[data-show-field]')).find((b) => b.value === k.show);
      if (box) box.focus();
      return;
    }
    const th = Array.from(document.querySelectorAll('table[data-grid] thead th.field-head')).find((h) => h.dataset.column === k.column);
    const menu = th && th.querySelector('.col-menu');
    if (!menu) return;
    menu.open = true;
    const again = menu.querySelector('a[data-move="' + k.move + '"]') || menu.querySelector('summary');
    again.focus();
  });

  document.addEventListener('htmx:load', (event) => {
    // One cell swapped back (saved, cancelled) takes its column's frozen place again.
    const table = event.target.closest && event.target.closest('table[data-grid]');
    if (table) applyFrozen(table);
    else applyLayout(event.target);
  });
  window.addEventListener('resize', () => document.querySelectorAll('table[data-grid]').forEach(applyFrozen));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => applyLayout());
  else applyLayout();
})();
