// Tablewright console script (served from /public: the CSP allows no inline script).
// htmx requests that change something carry the session's CSRF token from the
// <meta name="csrf-token"> the layout renders for a signed-in user.
document.addEventListener('htmx:configRequest', (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) event.detail.headers['X-CSRF-Token'] = meta.content;
});
