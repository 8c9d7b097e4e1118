// Forms in the console: errors beside the field they concern, and a few conveniences.
// Served as a file (the CSP allows no inline script; htmx runs without eval).
//
// An error answer to an htmx request is swapped into #flash (server/web/app.ts sets
// HX-Retarget); views/partials/error.ejs names the input it concerns in
// data-error-field. Here the control of that name in the form that sent the request is
// marked: aria-invalid, the message in an element next to it (aria-describedby), focus.
(function () {
  'use strict';
  const MARK = 'data-client-error';
  let counter = 0;

  /** The form behind an htmx request: the element itself, or the form around a button. */
  const formOf = (elt) => (elt && (elt.tagName === 'FORM' ? elt : elt.closest && elt.closest('form'))) || null;

  function clearErrors(form) {
    if (!form) return;
    form.querySelectorAll('[' + MARK + ']').forEach((el) => el.remove());
    form.querySelectorAll('[aria-invalid="true"][data-client-invalid]').forEach((el) => {
      el.removeAttribute('aria-invalid');
      el.removeAttribute('data-client-invalid');
      const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.startsWith('client-err-'));
      if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
      else el.removeAttribute('aria-describedby');
    });
  }

  /**
   * The control an error's field names: an input named exactly so, else one whose name
   * starts with it (options[choices] for "options"); hidden inputs never (a checkbox's
   * hidden "0" companion has the same name as the checkbox).
   */
  function controlFor(form, field) {
    const visible = (el) => el.type !== 'hidden' && !el.disabled && el.offsetParent !== null;
    const all = Array.from(form.elements).filter((el) => el.name && visible(el));
    return all.find((el) => el.name === field) || all.find((el) => el.name.startsWith(field + '[')) || null;
  }

  function markError(form, field, message) {
    const control = controlFor(form, field);
    if (!control) return false;
    const id = 'client-err-' + ++counter;
    const note = document.createElement('p');
    note.className = 'field-error';
    note.id = id;
    note.setAttribute(MARK, '');
    note.textContent = message;
    // Beside the control: after it, or after its label when the label wraps it (checkboxes).
    const anchor = control.closest('label') || control;
    anchor.insertAdjacentElement('afterend', note);
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('data-client-invalid', '');
    const described = control.getAttribute('aria-describedby');
    control.setAttribute('aria-describedby', described ? described + ' ' + id : id);
    // Opening a closed <details> around it, so that the message can be seen.
    for (let d = control.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) d.open = true;
    control.focus();
    return true;
  }

  document.addEventListener('htmx:beforeRequest', (event) => {
    const form = formOf(event.detail && event.detail.elt);
    clearErrors(form);
    // A new request: the last result's message has done its job.
    const flash = document.getElementById('flash');
    if (flash && form && flash.querySelector('[data-error-code]')) flash.replaceChildren();
  });

  document.addEventListener('htmx:afterRequest', (event) => {
    const detail = event.detail || {};
    if (!detail.failed || !detail.xhr) return;
    const form = formOf(detail.elt);
    if (!form || !document.contains(form)) return;
    const doc = new DOMParser().parseFromString(detail.xhr.responseText || '', 'text/html');
    const err = doc.querySelector('[data-error-field]');
    if (!err) return;
    const message = (err.querySelector('p') || err).textContent.replace(/\s*\(field: [^)]*\)\s*$/, '').trim();
    markError(form, err.getAttribute('data-error-field'), message);
  });

  // Typing into a marked control clears its mark (the message may no longer apply).
  document.addEventListener('input', (event) => {
    const el = event.target;
    if (!el || !el.hasAttribute || !el.hasAttribute('data-client-invalid')) return;
    const ids = (el.getAttribute('aria-describedby') || '').split(' ');
    ids.filter((id) => id.startsWith('client-err-')).forEach((id) => {
      const note = document.getElementById(id);
      if (note) note.remove();
    });
    el.removeAttribute('aria-invalid');
    el.removeAttribute('data-client-invalid');
    const rest = ids.filter((id) => id && !id.startsWith('client-err-'));
    if (rest.length) el.setAttribute('aria-describedby', rest.join(' '));
    else el.removeAttribute('aria-describedby');
  });

  // <select data-autosubmit>: choosing submits its form (the button stays for no-JS use).
  document.addEventListener('change', (event) => {
    const el = event.target;
    if (el && el.matches && el.matches('select[data-autosubmit]') && el.form) el.form.requestSubmit();
  });

  // A field form shows the option inputs of the chosen type only (without JavaScript it
  // shows them all, and the server keeps those of the chosen type).
  // Each options block (by its first control) and the types that use it.
  const OPTION_TYPES = {
    'options[decimals]': ['number', 'percent', 'currency'],
    'options[any_precision]': ['number'],
    'options[choices]': ['single_select', 'multiple_select'],
    'options[expression]': ['formula'],
    'options[table_id]': ['link'],
    'options[multiple]': ['link'],
    'options[link_field_id]': ['lookup', 'rollup'],
    'options[max]': ['rating'],
    'options[code]': ['currency'],
  };
  function showOptionsFor(form) {
    const type = form.querySelector('select[name="type"]');
    const fieldset = form.querySelector('fieldset.options');
    if (!type || !fieldset) return;
    let shown = 0;
    Array.from(fieldset.children).forEach((div) => {
      const control = div.querySelector('[name^="options["]');
      if (!control) return;
      const on = (OPTION_TYPES[control.name] || []).includes(type.value);
      div.hidden = !on;
      if (on) shown += 1;
    });
    fieldset.hidden = shown === 0;
  }
  document.addEventListener('change', (event) => {
    const el = event.target;
    if (el && el.matches && el.matches('select[name="type"]') && el.form) showOptionsFor(el.form);
  });
  function initOptions(root) {
    const base = root || document;
    const forms = base.matches && base.matches('form') ? [base] : [];
    base.querySelectorAll('form').forEach((f) => forms.push(f));
    forms.forEach(showOptionsFor);
  }

  // [data-copy="id"]: copies that element's text (shown only where the clipboard works).
  function initCopy(root) {
    if (!navigator.clipboard) return;
    (root || document).querySelectorAll('[data-copy]').forEach((b) => b.removeAttribute('hidden'));
  }
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('[data-copy]');
    if (!button) return;
    const source = document.getElementById(button.getAttribute('data-copy'));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent).then(() => {
      const label = button.textContent;
      button.textContent = 'Copied';
      setTimeout(() => (button.textContent = label), 1500);
    });
  });

  const init = (root) => {
    initCopy(root);
    initOptions(root);
  };
  document.addEventListener('htmx:load', (event) => init(event.target));
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => init());
  else init();
})();
