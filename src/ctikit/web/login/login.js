// Sign-in: POST /api/login sets the console's HttpOnly session cookie, then back to the console.
(function () {
  'use strict';
  var form = document.getElementById('login');
  var errorBox = form.querySelector('.error');

  // Only same-site paths are followed after login (no open redirect).
  function nextUrl() {
    var next = new URLSearchParams(location.search).get('next') || '';
    return /^\/(?!\/)[^\s\\]*$/.test(next) ? next : '/console';
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var button = form.querySelector('button');
    errorBox.textContent = '';
    button.disabled = true;
    fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify({ username: form.username.value, password: form.password.value })
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (!body.success) { throw new Error(body.error || 'sign-in failed'); }
      var next = nextUrl();
      if (next === '/console' && body.agent) { next = '/console?agent=' + encodeURIComponent(body.agent); }
      location.assign(next);
    }).catch(function (err) {
      errorBox.textContent = err.message || String(err);
      button.disabled = false;
    });
  });
}());
