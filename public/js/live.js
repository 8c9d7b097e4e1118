// Live updates on a table page: a server-sent event stream from /events?table=<id>.
// - A schema change newer than what this page shows (by any admin, on any instance)
//   shows a banner: "changed by X: reload". The page's own changes come back as htmx
//   swaps carrying the new version, so they raise no banner.
// - Rows written elsewhere refresh the grid, unless a cell is being edited here.
(function () {
  'use strict';
  var marker = document.querySelector('[data-live-table]');
  if (!marker || !window.EventSource) return;
  var tableId = marker.getAttribute('data-live-table');
  var banner = document.getElementById('live-banner');
  var refreshTimer = null;

  function pageVersion() {
    var v = 0;
    document.querySelectorAll('[data-table-version]').forEach(function (el) {
      v = Math.max(v, Number(el.getAttribute('data-table-version')) || 0);
    });
    return v;
  }

  var OPS = {
    create_table: 'created the table', rename_table: 'renamed the table', trash_table: 'moved the table to the trash',
    restore_table: 'restored the table', add_field: 'added a field', update_field: 'changed a field',
    trash_field: 'moved a field to the trash', restore_field: 'restored a field', reorder_fields: 'reordered the fields',
  };

  function showBanner(change) {
    if (!banner) return;
    banner.textContent = '';
    var text = document.createElement('span');
    text.textContent = 'This table was changed by ' + change.actor + ' (' + (OPS[change.op] || change.op) + '). ';
    var reload = document.createElement('a');
    reload.href = window.location.href;
    reload.textContent = 'Reload';
    reload.className = 'button small';
    banner.appendChild(text);
    banner.appendChild(reload);
    banner.hidden = false;
  }

  function refreshGrid() {
    var grid = document.getElementById('grid');
    if (!grid || !window.htmx) return;
    if (grid.querySelector('input:focus, textarea:focus, select:focus, td.editing, .cell-editing, [data-editing]')) return;
    window.htmx.ajax('GET', window.location.pathname.replace(/\/$/, '') + '/grid' + window.location.search, { target: '#grid', swap: 'outerHTML' });
  }

  var source = new EventSource('/events?table=' + encodeURIComponent(tableId));
  source.addEventListener('schema', function (e) {
    var change = JSON.parse(e.data);
    // Let this page's own htmx swap land first: it carries the new version.
    setTimeout(function () {
      if (change.version > pageVersion()) showBanner(change);
    }, 500);
  });
  // Writes this page made itself (their X-Request-Id): it already shows them, and a refresh
  // would race what the user does next (a click on a header, another edit).
  var ownRequests = [];
  document.body.addEventListener('htmx:afterRequest', function (e) {
    var id = e.detail && e.detail.xhr && e.detail.xhr.getResponseHeader('X-Request-Id');
    if (!id) return;
    ownRequests.push(id);
    if (ownRequests.length > 50) ownRequests.shift();
  });
  // The event can arrive before the response of the request that caused it: which writes
  // were this page's own is decided when the refresh is due, not when the event comes.
  var pendingWrites = [];
  source.addEventListener('rows', function (e) {
    pendingWrites.push(JSON.parse(e.data).request_id || null);
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      var foreign = pendingWrites.some(function (id) {
        return !id || ownRequests.indexOf(id) < 0;
      });
      pendingWrites = [];
      if (foreign) refreshGrid();
    }, 300);
  });
  window.addEventListener('pagehide', function () {
    source.close();
  });
})();
