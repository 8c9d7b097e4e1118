// Undo of one's own row actions (views/partials/undo_notice.ejs). Every notice that offers
// an Undo (a cell saved, a row added, a row deleted) is remembered per table in
// sessionStorage, newest last. Its button, or Ctrl+Z (Cmd+Z) in the grid, sends the
// newest one still there to POST /tables/:id/rows/undo and swaps the grid; the server
// refuses, naming the change, when someone else changed those rows since. Without
// JavaScript the notice's form posts by itself.
(function () {
  'use strict';
  const MAX = 50;
  const key = (table) => 'tw-undo:' + table;

  function load(table) {
    try {
      const list = JSON.parse(window.sessionStorage.getItem(key(table)) || '[]');
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }

  function save(table, list) {
    try {
      window.sessionStorage.setItem(key(table), JSON.stringify(list.slice(-MAX)));
    } catch (e) {
      // storage full or off: Undo still works from the notice's button
    }
  }

  function remember(root) {
    const found = [];
    if (root.matches && root.matches('[data-undo]')) found.push(root);
    if (root.querySelectorAll) found.push(...root.querySelectorAll('[data-undo]'));
    for (const n of found) {
      if (n.dataset.undoSeen) continue;
      n.dataset.undoSeen = '1';
      const list = load(n.dataset.undoTable);
      if (list.some((a) => a.request === n.dataset.undoRequest)) continue;
      list.push({ request: n.dataset.undoRequest, rows: n.dataset.undoRows, label: n.dataset.undoLabel });
      save(n.dataset.undoTable, list);
    }
  }

  function say(text) {
    const flash = document.getElementById('flash');
    if (!flash) return;
    const p = document.createElement('p');
    p.className = 'notice';
    p.textContent = text;
    flash.replaceChildren(p);
  }

  function send(table, action) {
    save(table, load(table).filter((a) => a.request !== action.request));
    const grid = document.getElementById('grid');
    // The grid comes back for the query the page shows (filters, sort, page).
    const path = '/tables/' + table + '/rows/undo' + (grid ? window.location.search : '');
    if (window.htmx && grid) {
      window.htmx.ajax('POST', path, { target: '#grid', swap: 'outerHTML', values: { request: action.request, rows: action.rows } });
      return;
    }
    const form = document.createElement('form');
    form.method = 'post';
    form.action = path;
    const fields = { request: action.request, rows: action.rows };
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf && csrf.content) fields._csrf = csrf.content;
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
  }

  document.addEventListener('submit', (event) => {
    const form = event.target.closest && event.target.closest('[data-undo-form]');
    const notice = form && form.closest('[data-undo]');
    if (!notice || !window.htmx || !document.getElementById('grid')) return;
    event.preventDefault();
    send(notice.dataset.undoTable, { request: notice.dataset.undoRequest, rows: notice.dataset.undoRows });
  });

  document.addEventListener('keydown', (event) => {
    if (event.key !== 'z' && event.key !== 'Z') return;
    if (!(event.ctrlKey || event.metaKey) || event.shiftKey || event.altKey) return;
    const grid = document.getElementById('grid');
    const target = event.target;
    if (!grid || !grid.dataset.tableId) return;
    // In a text input the browser's own undo applies; elsewhere in the grid (or the page), ours.
    if (target.closest && target.closest('input, textarea, select, [contenteditable]')) return;
    if (target !== document.body && !grid.contains(target)) return;
    event.preventDefault();
    const table = grid.dataset.tableId;
    const list = load(table);
    const last = list[list.length - 1];
    if (!last) {
      say('Nothing to undo.');
      return;
    }
    send(table, last);
  });

  document.addEventListener('htmx:load', (event) => remember(event.target));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => remember(document));
  else remember(document);
})();
