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
  /** after a save: where to move from the saved cell ([rows, columns]), as Enter and Tab do */
  let pendingMove = null;
  /** type to edit: the keys typed on a cell while its editor loads, then put into it */
  let typed = null;
  const sheet = () => window.twSheet;

  const gridOf = (el) => el && el.closest('table[data-grid]');
  const cellsOf = (row) => Array.from(row.querySelectorAll(':scope > ' + CELL));
  /**
   * A cell with its editor in. The form is the sign, not the `editing` class: until settle
   * (20 ms after the swap) htmx keeps the old cell's attributes on the new one.
   */
  const isEditing = (cell) => cell.classList.contains('editing') || !!cell.querySelector('form');

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
    return target;
  }

  /**
   * The URL of a cell's editor: GET /tables/:id/rows/:rid/cells/:column/edit, from the
   * grid section's data-table-id, the row's key (tr id="row-KEY") and the cell's
   * data-column. One listener asks for it (cells carry no hx-* attributes of their own:
   * 5,000 of them made the page twice as big).
   */
  function editUrl(cell) {
    const section = cell.closest('[data-table-id]');
    const row = cell.parentElement;
    if (!section || !row || !row.id || row.id.indexOf('row-') !== 0) return null;
    return '/tables/' + encodeURIComponent(section.dataset.tableId) + '/rows/' + encodeURIComponent(row.id.slice(4)) + '/cells/' + encodeURIComponent(cell.dataset.column) + '/edit';
  }

  function edit(cell, key) {
    if (!cell.hasAttribute('data-editable') || isEditing(cell) || !window.htmx) return;
    const url = editUrl(cell);
    if (!url) return;
    refocus = cell.id;
    typed = key === undefined ? null : { id: cell.id, text: key };
    window.htmx.ajax('GET', url, { source: cell, target: cell, swap: 'outerHTML' });
  }

  const textInputOf = (cell) => cell.querySelector('textarea, input:not([type=hidden]):not([type=checkbox]):not([type=date]):not([type=datetime-local])');

  /** The editor has come: the keys typed meanwhile replace its value (text-like inputs). */
  function fillTyped(cell) {
    if (!typed || typed.id !== cell.id) return;
    const input = textInputOf(cell);
    if (input) {
      input.value = typed.text;
      input.focus();
      if (input.setSelectionRange && input.type !== 'number' && input.type !== 'email') input.setSelectionRange(input.value.length, input.value.length);
    }
    typed = null;
  }

  /** Saves the open editor (its form), then moves by [rows, columns] once it is back. */
  function saveAndMove(cell, d) {
    const form = cell.querySelector('form');
    if (!form) return;
    refocus = cell.id;
    pendingMove = d;
    form.requestSubmit();
  }

  function cancel(cell) {
    const button = cell.querySelector('.cancel');
    refocus = cell.id;
    if (button) button.click();
  }

  // Keys typed while the editor is swapped in (the old cell gone, focus on the body) are
  // kept for it too.
  document.addEventListener('keydown', (event) => {
    if (!typed || event.target !== document.body || event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    typed.text += event.key;
  });

  // The editor is in (same task as the swap: no key can come in between): the keys typed
  // so far go into it, and it takes the focus. Its form is the sign, not its class: until
  // settle (20 ms on), htmx keeps the old cell's attributes on a swapped element of the
  // same id, so the new cell has no `editing` class yet. Waiting for settle lost a key
  // typed in between (it went into the input, then the typed text overwrote it).
  document.addEventListener('htmx:afterSwap', () => {
    if (!typed) return;
    const cell = document.getElementById(typed.id);
    if (cell && isEditing(cell)) fillTyped(cell);
  });

  document.addEventListener('keydown', (event) => {
    const cell = event.target.closest && event.target.closest(CELL);
    if (!cell || !gridOf(cell)) return;
    if (typed && typed.id === cell.id && event.target === cell && event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
      // typed while the editor loads (or settles): kept for it, and put in once it is there
      event.preventDefault();
      typed.text += event.key;
      if (isEditing(cell)) fillTyped(cell);
      return;
    }
    if (isEditing(cell)) {
      const input = event.target === cell && cell.querySelector('textarea, input:not([type=hidden]):not([type=checkbox]), select');
      if (input && event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
        // htmx put the focus back on the cell (same id) before the editor's input took it:
        // the key goes where it was meant to.
        event.preventDefault();
        if (input.tagName !== 'SELECT') input.value += event.key;
        input.focus();
        return;
      }
      if (event.key === 'Escape') {
        event.preventDefault();
        pendingMove = null;
        cancel(cell);
      } else if (event.key === 'Enter' && (event.target.tagName !== 'TEXTAREA' || event.ctrlKey)) {
        // Enter saves and moves down (Shift+Enter up); Ctrl+Enter does so from a textarea.
        if (event.target.tagName === 'BUTTON' || event.target.tagName === 'A') return;
        event.preventDefault();
        saveAndMove(cell, [event.shiftKey ? -1 : 1, 0]);
      } else if (event.key === 'Tab') {
        event.preventDefault();
        saveAndMove(cell, [0, event.shiftKey ? -1 : 1]);
      }
      return;
    }
    if (event.target !== cell) return; // a link inside the cell keeps its own keys
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (moves[event.key]) {
      event.preventDefault();
      if (event.shiftKey && sheet()) {
        // Shift+arrow grows the range from where it started.
        const target = move(cell, moves[event.key][0], moves[event.key][1]);
        if (target) sheet().extendTo(target);
        return;
      }
      const target = move(cell, moves[event.key][0], moves[event.key][1]);
      if (target && sheet()) sheet().collapse(target);
    } else if (event.key === 'Tab' && !event.ctrlKey && !event.altKey) {
      // Tab moves along the row; past its last cell it leaves the grid as usual.
      const target = move(cell, 0, event.shiftKey ? -1 : 1);
      if (target) {
        event.preventDefault();
        if (sheet()) sheet().collapse(target);
      }
    } else if (event.key === 'Enter' || event.key === 'F2') {
      event.preventDefault();
      edit(cell);
    } else if (event.key.length === 1 && event.key !== ' ' && !event.ctrlKey && !event.metaKey && !event.altKey && cell.hasAttribute('data-editable')) {
      // Type to edit: the editor opens with what was typed in place of the value.
      event.preventDefault();
      edit(cell, event.key);
    }
  });

  document.addEventListener('click', (event) => {
    const cell = event.target.closest && event.target.closest(CELL);
    if (!cell || !gridOf(cell) || isEditing(cell)) return;
    makeCurrent(cell);
    if (event.shiftKey) return; // Shift+click extends the selected range (sheet.js)
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
  // A refused save comes back as the editor with its message: no move then.
  document.addEventListener('htmx:afterSettle', () => {
    if (!refocus) return;
    const cell = document.getElementById(refocus);
    if (!cell) return;
    if (isEditing(cell)) {
      fillTyped(cell);
      if (cell.classList.contains('invalid')) pendingMove = null;
      return;
    }
    refocus = null;
    makeCurrent(cell);
    cell.focus();
    const d = pendingMove;
    pendingMove = null;
    if (d) {
      const target = move(cell, d[0], d[1]);
      if (target && sheet()) sheet().collapse(target);
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

  // The toolbar's toggle (grid.ejs, data-toolbar-more): shown as one button at phone
  // widths. Open while the user works in it, it stays open across the grid's swap. Where
  // the browser cannot show a closed <details>' content from CSS (::details-content), it
  // is opened at wide widths.
  let toolsOpen = false;
  document.addEventListener('htmx:beforeRequest', (event) => {
    const el = event.detail.elt;
    const tools = el && el.closest && el.closest('[data-toolbar-more]');
    toolsOpen = !!(tools && tools.open);
  });
  function initTools(root) {
    const wide = !(window.CSS && CSS.supports && CSS.supports('selector(::details-content)')) && window.matchMedia('(min-width: 641px)').matches;
    (root || document).querySelectorAll('[data-toolbar-more]').forEach((tools) => {
      if (toolsOpen || wide) tools.open = true;
    });
    toolsOpen = false;
  }

  document.addEventListener('htmx:load', (event) => {
    initGrids(event.target);
    if (event.target.querySelector) initTools(event.target);
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => initGrids());
  else initGrids();
})();
