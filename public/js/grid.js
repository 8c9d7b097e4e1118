// The rows grid (views/partials/grid.ejs): keyboard navigation between cells, click or
// Enter to edit a cell, Escape to cancel, the filter bar's operator list narrowed to the
// chosen field's type, link pickers' searches, and shift+click on a header to sort by
// several columns. Served as a file: the CSP allows no inline script, and htmx
// runs with allowEval off, so behaviour lives here, not in hx-on or trigger filters.
(function () {
  'use strict';
  const CELL = 'td.cell';
  /** the id of the cell to focus once htmx has swapped it back */
  let refocus = null;

  const gridOf = (el) => el && el.closest('table[data-grid]');
  const cellsOf = (row) => Array.from(row.querySelectorAll(':scope > ' + CELL));

  /** One tab stop per grid: the cell last focused (roving tabindex). */
  function makeCurrent(cell) {
    const grid = gridOf(cell);
    if (!grid) return;
    grid.querySelectorAll(CELL + '[tabindex="0"]').forEach((c) => c !== cell && c.setAttribute('tabindex', '-1'));
    cell.setAttribute('tabindex', '0');
  }

  function initGrids(root) {
    (root || document).querySelectorAll('table[data-grid]').forEach((grid) => {
      if (!grid.querySelector(CELL + '[tabindex="0"]')) {
        const first = grid.querySelector('tbody ' + CELL);
        if (first) first.setAttribute('tabindex', '0');
      }
    });
    (root || document).querySelectorAll('[data-filter-field]').forEach(narrowOps);
  }

  function move(cell, dRow, dCol) {
    const row = cell.parentElement;
    const cells = cellsOf(row);
    const col = cells.indexOf(cell);
    let target = null;
    if (dCol) target = cells[col + dCol] || null;
    if (dRow) {
      let r = dRow > 0 ? row.nextElementSibling : row.previousElementSibling;
      while (r && cellsOf(r).length === 0) r = dRow > 0 ? r.nextElementSibling : r.previousElementSibling;
      if (r) target = cellsOf(r)[col] || null;
    }
    if (target) {
      makeCurrent(target);
      target.focus();
    }
  }

  function edit(cell) {
    if (!cell.hasAttribute('data-editable') || cell.classList.contains('editing') || !window.htmx) return;
    refocus = cell.id;
    window.htmx.trigger(cell, 'tw-edit');
  }

  function cancel(cell) {
    const button = cell.querySelector('.cancel');
    refocus = cell.id;
    if (button) button.click();
  }

  document.addEventListener('keydown', (event) => {
    const cell = event.target.closest && event.target.closest(CELL);
    if (!cell || !gridOf(cell)) return;
    if (cell.classList.contains('editing')) {
      if (event.key === 'Escape') {
        event.preventDefault();
        cancel(cell);
      } else if (event.key === 'Enter' && event.target.tagName !== 'TEXTAREA') {
        refocus = cell.id; // the form submits; focus comes back to the saved cell
      }
      return;
    }
    if (event.target !== cell) return; // a link inside the cell keeps its own keys
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (moves[event.key]) {
      event.preventDefault();
      move(cell, moves[event.key][0], moves[event.key][1]);
    } else if (event.key === 'Enter' || event.key === 'F2') {
      event.preventDefault();
      edit(cell);
    }
  });

  document.addEventListener('click', (event) => {
    const cell = event.target.closest && event.target.closest(CELL);
    if (!cell || !gridOf(cell) || cell.classList.contains('editing')) return;
    makeCurrent(cell);
    if (event.target.closest('a, input, button, select, textarea')) return; // a URL or email link opens
    edit(cell);
  });

  document.addEventListener('focusin', (event) => {
    const cell = event.target.closest && event.target.closest(CELL);
    if (cell && gridOf(cell) && event.target === cell) makeCurrent(cell);
  });

  document.addEventListener('submit', (event) => {
    const cell = event.target.closest && event.target.closest(CELL);
    if (cell) refocus = cell.id;
  });

  // After a cell is swapped back (saved or cancelled), focus it so the keyboard stays put.
  document.addEventListener('htmx:afterSettle', () => {
    if (!refocus) return;
    const cell = document.getElementById(refocus);
    if (cell && !cell.classList.contains('editing')) {
      refocus = null;
      makeCurrent(cell);
      cell.focus();
    }
  });

  /** The operator list offers what the chosen field's type can filter with. */
  function narrowOps(fieldSelect) {
    const row = fieldSelect.closest('[data-filter]');
    const opSelect = row && row.querySelector('[data-filter-op]');
    const chosen = fieldSelect.selectedOptions[0];
    if (!opSelect || !chosen || !chosen.dataset.ops) return;
    const allowed = chosen.dataset.ops.split(' ');
    let keep = null;
    for (const option of opSelect.options) {
      const ok = allowed.includes(option.value);
      option.hidden = !ok;
      option.disabled = !ok;
      if (ok && (keep === null || option.selected)) keep = option;
    }
    if (keep && !keep.selected) keep.selected = true;
  }

  document.addEventListener('change', (event) => {
    if (event.target.matches && event.target.matches('[data-filter-field]')) narrowOps(event.target);
  });

  // A link picker (views/partials/grid_link_input.ejs) asks for choices with hx-get as the
  // user types. htmx would send the input's own name (value, or the column in the add-row
  // form); the choices endpoint reads the text as q.
  document.addEventListener('htmx:configRequest', (event) => {
    const input = event.detail.elt;
    if (!input || !input.matches || !input.matches('input[data-choices]')) return;
    const params = event.detail.parameters;
    delete params[input.name];
    params.q = input.value;
  });

  // Shift+click on a column header adds that column to the sort (or turns its direction),
  // keeping the other keys: the link's data-sort-add (grid.ejs) is that URL. A plain click
  // sorts by the column alone. In the capture phase, so that neither htmx's handler on the
  // link nor the browser (a shift+click opens a new window) acts on it first.
  document.addEventListener('click', (event) => {
    if (!event.shiftKey || event.button !== 0 || event.ctrlKey || event.metaKey || event.altKey) return;
    const link = event.target.closest && event.target.closest('a[data-sort-add]');
    if (!link || !link.closest('table[data-grid]')) return;
    event.preventDefault();
    event.stopPropagation();
    if (window.htmx && link.dataset.sortAddHx) {
      window.htmx.ajax('GET', link.dataset.sortAddHx, { source: link, target: '#grid', swap: 'outerHTML' });
    } else {
      window.location.assign(link.dataset.sortAdd);
    }
  }, true);

  document.addEventListener('htmx:load', (event) => initGrids(event.target));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => initGrids());
  else initGrids();
})();

// Column widths saved in a view (data-width on the header; the CSP allows no style attribute).
function applyViewWidths(root) {
  for (const th of (root || document).querySelectorAll('table.grid th[data-width]')) {
    const w = Number(th.getAttribute('data-width'));
    if (w > 0) { th.style.width = `${w}px`; th.style.minWidth = `${w}px`; }
  }
}
document.addEventListener('DOMContentLoaded', () => applyViewWidths(document));
document.addEventListener('htmx:afterSwap', (e) => applyViewWidths(e.target));
