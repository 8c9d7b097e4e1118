// Spreadsheet behaviour of the rows grid (views/partials/grid.ejs), on top of grid.js's
// cell editing: a selected range (Shift+arrows, Shift+click), Ctrl+C copies it as TSV,
// Ctrl+V pastes a TSV range (from a spreadsheet) as ONE write, Delete clears the range.
// A paste is PATCH /tables/:id/rows {rows, create}: all or nothing; cells past the last
// row become new rows; every refused cell is marked in place with its message.
// Served as a file (the CSP allows no inline script); no library.
(function () {
  'use strict';
  const CELL = 'td.cell';
  /** the range: its anchor cell and its other corner, as {row, col} indexes in the grid */
  let anchor = null;
  let corner = null;

  const gridOf = (el) => el && el.closest && el.closest('table[data-grid]');
  const dataRows = (grid) => Array.from(grid.tBodies[0] ? grid.tBodies[0].rows : []).filter((r) => r.querySelector(CELL));
  const cellsOf = (row) => Array.from(row.querySelectorAll(':scope > ' + CELL));

  function position(cell) {
    const row = cell.parentElement;
    return { row: dataRows(gridOf(cell)).indexOf(row), col: cellsOf(row).indexOf(cell) };
  }

  function cellAt(grid, row, col) {
    const r = dataRows(grid)[row];
    return r ? cellsOf(r)[col] || null : null;
  }

  /** The range as [top, left, bottom, right], or the one cell given. */
  function bounds(cell) {
    if (anchor && corner && gridOf(cell)) {
      return [Math.min(anchor.row, corner.row), Math.min(anchor.col, corner.col), Math.max(anchor.row, corner.row), Math.max(anchor.col, corner.col)];
    }
    const p = position(cell);
    return [p.row, p.col, p.row, p.col];
  }

  function paint(grid) {
    grid.querySelectorAll(CELL + '.selected').forEach((c) => {
      c.classList.remove('selected');
      c.removeAttribute('aria-selected');
    });
    if (!anchor || !corner) return;
    const [t, l, b, r] = [Math.min(anchor.row, corner.row), Math.min(anchor.col, corner.col), Math.max(anchor.row, corner.row), Math.max(anchor.col, corner.col)];
    if (t === b && l === r) return;
    for (let i = t; i <= b; i++) for (let j = l; j <= r; j++) {
      const c = cellAt(grid, i, j);
      if (c) {
        c.classList.add('selected');
        c.setAttribute('aria-selected', 'true');
      }
    }
  }

  /** A plain move or click: the range is the one cell. */
  function collapse(cell) {
    const grid = gridOf(cell);
    if (!grid) return;
    anchor = position(cell);
    corner = anchor;
    paint(grid);
  }

  /** Shift+arrow or Shift+click: the range runs from the anchor to this cell. */
  function extendTo(cell) {
    const grid = gridOf(cell);
    if (!anchor) anchor = position(cell);
    corner = position(cell);
    paint(grid);
  }

  // ------------------------------------------------------------ TSV

  /** A cell's value as its editor reads it: data-v where the text shown differs. */
  function valueOf(cell) {
    if (cell.hasAttribute('data-v')) return cell.getAttribute('data-v');
    return (cell.textContent || '').trim();
  }

  const quote = (v) => (/[\t\n\r"]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v);
  const toTsv = (matrix) => matrix.map((row) => row.map(quote).join('\t')).join('\n');

  /** TSV as spreadsheets write it: quoted values may hold tabs, newlines and "" quotes. */
  function parseTsv(text) {
    const rows = [];
    let row = [];
    let value = '';
    let i = 0;
    let quoted = false;
    const s = text.replace(/\r\n?/g, '\n');
    while (i < s.length) {
      const ch = s[i];
      if (quoted) {
        if (ch === '"' && s[i + 1] === '"') { value += '"'; i += 2; continue; }
        if (ch === '"') { quoted = false; i++; continue; }
        value += ch; i++; continue;
      }
      if (ch === '"' && value === '') { quoted = true; i++; continue; }
      if (ch === '\t') { row.push(value); value = ''; i++; continue; }
      if (ch === '\n') { row.push(value); rows.push(row); row = []; value = ''; i++; continue; }
      value += ch; i++;
    }
    // a final newline ends the last row; it does not start an empty one
    if (value !== '' || row.length) { row.push(value); rows.push(row); }
    return rows;
  }

  // ------------------------------------------------------------ writes

  const tableIdOf = (grid) => grid.closest('[data-table-id]').getAttribute('data-table-id');
  /** row-12: the row's id (a row without one, keyed p1, p2 by place, has no editable cells) */
  const rowIdOf = (tr) => (/^row-(\d+)$/.exec(tr.id) || [])[1];

  function say(message, isError) {
    const flash = document.getElementById('flash');
    if (!flash) return;
    const p = document.createElement('p');
    p.className = isError ? 'error' : 'notice';
    p.setAttribute('data-sheet-message', '');
    p.textContent = message;
    flash.replaceChildren(p);
  }

  /** The grid again for the page's own query; then focus the cell that had it. */
  function reloadGrid(grid, focusId) {
    const url = '/tables/' + tableIdOf(grid) + '/grid' + window.location.search;
    if (!window.htmx) return void window.location.reload();
    window.htmx.ajax('GET', url, { target: '#grid', swap: 'outerHTML' }).then(() => {
      const cell = focusId && document.getElementById(focusId);
      if (cell) {
        cell.setAttribute('tabindex', '0');
        cell.focus();
        collapse(cell);
      }
    });
  }

  function markErrors(grid, errors, createdCells) {
    const unplaced = [];
    for (const e of errors) {
      let cell = null;
      if (e.new) cell = createdCells[e.index] && createdCells[e.index][e.field];
      else if (e.id != null) cell = document.getElementById('cell-' + e.id + '-' + e.field);
      if (cell && gridOf(cell) === grid) {
        cell.classList.add('invalid');
        cell.setAttribute('aria-invalid', 'true');
        const note = document.createElement('span');
        note.className = 'cell-error';
        note.setAttribute('data-cell-error', '');
        note.textContent = e.message;
        cell.appendChild(note);
      } else {
        unplaced.push((e.new ? 'new row ' + (e.index + 1) : 'row ' + (e.id != null ? e.id : e.index + 1)) + ': ' + e.message);
      }
    }
    return unplaced;
  }

  function clearMarks(grid) {
    grid.querySelectorAll('[data-cell-error]').forEach((n) => n.remove());
    grid.querySelectorAll(CELL + '[aria-invalid]').forEach((c) => {
      c.classList.remove('invalid');
      c.removeAttribute('aria-invalid');
    });
    grid.querySelectorAll('tr[data-new-row]').forEach((r) => r.remove());
  }

  /**
   * Sends {rows, create}. `cells` is a list of {tr, column, value} for existing rows and
   * `fresh` a list of {column: value} objects for new rows (with `freshCells`, the
   * placeholder cells that show their errors). Nothing changes unless all of it is taken.
   */
  async function write(grid, cells, fresh, freshCells, focusId, done) {
    const byRow = new Map();
    for (const c of cells) {
      const id = Number(rowIdOf(c.tr));
      if (!byRow.has(id)) byRow.set(id, { id });
      byRow.get(id)[c.column] = c.value;
    }
    const meta = document.querySelector('meta[name="csrf-token"]');
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (meta && meta.content) headers['X-CSRF-Token'] = meta.content;
    let res;
    try {
      res = await fetch('/tables/' + tableIdOf(grid) + '/rows', { method: 'PATCH', headers, body: JSON.stringify({ rows: [...byRow.values()], create: fresh }), credentials: 'same-origin' });
    } catch (err) {
      say('The change was not sent (' + err.message + '); nothing changed.', true);
      return;
    }
    const body = await res.json().catch(() => ({}));
    if (res.ok) {
      say(done(body));
      reloadGrid(grid, focusId);
      return;
    }
    const error = body.error || {};
    const errors = (error.details && error.details.errors) || [];
    const unplaced = markErrors(grid, errors, freshCells);
    if (!errors.length) return void say('Nothing was changed: ' + (error.message || 'the server answered ' + res.status) + '.', true);
    const n = errors.length;
    say('Nothing was changed: ' + n + ' cell' + (n === 1 ? '' : 's') + ' refused' + (unplaced.length ? ' (' + unplaced.join('; ') + ')' : ', marked in the grid') + '.', true);
  }

  function editableColumns(grid) {
    const first = dataRows(grid)[0];
    return first ? cellsOf(first).map((c) => c.getAttribute('data-column')) : [];
  }

  function paste(cell, text) {
    const grid = gridOf(cell);
    const matrix = parseTsv(text);
    if (!matrix.length) return;
    clearMarks(grid);
    const [top, left] = bounds(cell);
    const rows = dataRows(grid);
    const columns = editableColumns(grid);
    const cells = [];
    const fresh = [];
    const freshCells = [];
    matrix.forEach((values, i) => {
      const tr = rows[top + i];
      const target = tr ? {} : null;
      const placeholders = {};
      let newRow = null;
      if (!tr) {
        // A row past the end: a placeholder row shows where its cells' errors are.
        newRow = document.createElement('tr');
        newRow.setAttribute('data-new-row', '');
        // the same columns as a row of the grid: check box, id, menu, then the cells
        for (const child of rows[0].children) {
          const column = child.matches(CELL) ? child.getAttribute('data-column') : null;
          const el = document.createElement(child.tagName === 'TH' ? 'th' : 'td');
          if (column) {
            el.className = 'cell';
            el.setAttribute('data-column', column);
            placeholders[column] = el;
          } else if (child.classList.contains('rowid')) {
            el.className = 'rowid muted';
            el.textContent = 'new';
          }
          newRow.appendChild(el);
        }
        grid.tBodies[0].appendChild(newRow);
      }
      const obj = {};
      values.forEach((value, j) => {
        const column = columns[left + j];
        if (!column) return; // past the last column: dropped, and said below
        if (tr) cells.push({ tr, column, value });
        else {
          obj[column] = value;
          placeholders[column].textContent = value;
        }
      });
      if (!tr) {
        fresh.push(obj);
        freshCells.push(placeholders);
      }
      void target;
    });
    const dropped = matrix.some((values) => left + values.length > columns.length);
    const focusId = cell.id;
    write(grid, cells, fresh, freshCells, focusId, () => {
      const n = cells.length + fresh.reduce((a, o) => a + Object.keys(o).length, 0);
      return 'Pasted ' + n + ' cell' + (n === 1 ? '' : 's') + (fresh.length ? ', ' + fresh.length + ' new row' + (fresh.length === 1 ? '' : 's') : '') + (dropped ? '; values past the last column were left out' : '') + '.';
    });
  }

  /** Delete or Backspace: the range (or the cell) becomes empty, in one write. */
  function clearRange(cell) {
    const grid = gridOf(cell);
    clearMarks(grid);
    const [t, l, b, r] = bounds(cell);
    const cells = [];
    for (let i = t; i <= b; i++) for (let j = l; j <= r; j++) {
      const c = cellAt(grid, i, j);
      if (c && c.hasAttribute('data-editable')) cells.push({ tr: c.parentElement, column: c.getAttribute('data-column'), value: null });
    }
    if (!cells.length) return;
    write(grid, cells, [], [], cell.id, () => 'Cleared ' + cells.length + ' cell' + (cells.length === 1 ? '' : 's') + '.');
  }

  function copyRange(cell) {
    const grid = gridOf(cell);
    const [t, l, b, r] = bounds(cell);
    const matrix = [];
    for (let i = t; i <= b; i++) {
      const row = [];
      for (let j = l; j <= r; j++) {
        const c = cellAt(grid, i, j);
        row.push(c ? valueOf(c) : '');
      }
      matrix.push(row);
    }
    return toTsv(matrix);
  }

  /** The focused display cell (not one being edited), if focus is in a grid. */
  function focusedCell(target) {
    const cell = target && target.closest && target.closest(CELL);
    if (!cell || !gridOf(cell) || cell.classList.contains('editing') || target !== cell) return null;
    return cell;
  }

  document.addEventListener('copy', (event) => {
    const cell = focusedCell(document.activeElement);
    if (!cell) return;
    event.preventDefault();
    event.clipboardData.setData('text/plain', copyRange(cell));
    say('Copied.', false);
  });

  document.addEventListener('paste', (event) => {
    const cell = focusedCell(document.activeElement);
    if (!cell || !cell.closest('[data-table-id]')) return;
    event.preventDefault();
    if (!cell.hasAttribute('data-editable')) return void say('These rows cannot be changed here.', true);
    paste(cell, event.clipboardData.getData('text/plain'));
  });

  document.addEventListener('keydown', (event) => {
    const cell = focusedCell(event.target);
    if (!cell) return;
    if ((event.key === 'Delete' || event.key === 'Backspace') && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      clearRange(cell);
    } else if (event.key === 'Escape' && anchor && corner) {
      collapse(cell);
    }
  });

  // Focus that arrives without Shift (a plain arrow, Tab, a click, a script) starts a new
  // range at the cell; with Shift held, the caller extends the range to it.
  let shiftHeld = false;
  const noteShift = (event) => { shiftHeld = event.shiftKey; };
  document.addEventListener('keydown', noteShift, true);
  document.addEventListener('mousedown', noteShift, true);
  document.addEventListener('keyup', noteShift, true);
  document.addEventListener('focusin', (event) => {
    const cell = event.target.closest && event.target.closest(CELL);
    if (cell && gridOf(cell) && event.target === cell && !shiftHeld) collapse(cell);
  });

  // Shift+click extends the range (a plain click starts a new one: grid.js moves the focus).
  document.addEventListener('mousedown', (event) => {
    const cell = event.target.closest && event.target.closest(CELL);
    if (!cell || !gridOf(cell) || cell.classList.contains('editing')) return;
    if (event.shiftKey) {
      event.preventDefault(); // no text selection
      extendTo(cell);
      cell.focus();
      cell.setAttribute('tabindex', '0');
    } else collapse(cell);
  });

  window.twSheet = { collapse, extendTo, parseTsv, toTsv, position, cellAt };
})();
