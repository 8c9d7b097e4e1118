// The grid's checked rows (views/partials/grid.ejs, routes/grid_bulk.ts): Shift+click on a
// row's check box checks (or clears) every row between it and the one clicked before,
// the header's box checks the page, the bar counts them, and Delete asks first (the form
// then sends confirm=1; without JavaScript the server asks with a confirm page).
(function () {
  'use strict';
  let lastPicked = null;
  const boxes = (grid) => Array.from(grid.querySelectorAll('input[data-pick]'));

  function count(root) {
    const form = (root || document).querySelector('form[data-bulk]') || document.querySelector('form[data-bulk]');
    if (!form) return;
    const grid = document.querySelector('table[data-grid]');
    const n = grid ? boxes(grid).filter((b) => b.checked).length : 0;
    const label = form.querySelector('[data-bulk-count]');
    if (label) label.textContent = n ? n + (n === 1 ? ' row checked:' : ' rows checked:') : 'Checked rows:';
    // The bar is there once a row is checked (or it has a message to show); without
    // JavaScript it always is.
    form.toggleAttribute('data-idle', n === 0 && !form.querySelector('.field-error'));
    const all = grid && grid.querySelector('input[data-pick-all]');
    if (all) {
      const total = grid ? boxes(grid).length : 0;
      all.checked = n > 0 && n === total;
      all.indeterminate = n > 0 && n < total;
    }
  }

  document.addEventListener('click', (event) => {
    const box = event.target.closest && event.target.closest('input[data-pick], input[data-pick-all]');
    if (!box) return;
    const grid = box.closest('table[data-grid]');
    if (box.hasAttribute('data-pick-all')) {
      boxes(grid).forEach((b) => { b.checked = box.checked; });
    } else if (event.shiftKey && lastPicked && lastPicked !== box && grid.contains(lastPicked)) {
      const list = boxes(grid);
      const [a, b] = [list.indexOf(lastPicked), list.indexOf(box)].sort((x, y) => x - y);
      for (let i = a; i <= b; i++) list[i].checked = box.checked;
    }
    if (!box.hasAttribute('data-pick-all')) lastPicked = box;
    count();
  });

  // Delete asks first; the answer goes with the form as confirm=1.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!form.matches || !form.matches('form[data-bulk]')) return;
    const submitter = event.submitter;
    let confirm = form.querySelector('input[name="confirm"]');
    if (confirm) confirm.remove();
    if (!submitter || submitter.value !== 'delete') return;
    const n = document.querySelectorAll('table[data-grid] input[data-pick]:checked').length;
    if (!n) return; // the server says to check rows first
    if (!window.confirm('Delete ' + n + (n === 1 ? ' row' : ' rows') + '? They go to the row trash (Undo brings them back).')) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    confirm = document.createElement('input');
    confirm.type = 'hidden';
    confirm.name = 'confirm';
    confirm.value = '1';
    form.appendChild(confirm);
  }, true);

  document.addEventListener('htmx:load', () => count());
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => count());
  else count();
})();
