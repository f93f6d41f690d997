/*
 * ctikit agent console: who is signed in. /api/whoami at boot, the sign-in form when there is
 * no session, sign-out, and noticing that a session ended while the console was open.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var byId = C.byId;
  var doc = global.document;
  var PROBE_DELAY_MS = 1500;

  var loginDone = null;

  /** Show the sign-in form; `then(loginResponseBody)` runs once the user signed in. */
  function showLogin(message, then) {
    var box = byId('login');
    var form = byId('login-form');
    var msg = byId('login-message');
    loginDone = then;
    msg.textContent = message || '';
    msg.hidden = !message;
    byId('login-error').hidden = true;
    box.hidden = false;
    doc.body.classList.add('login-open');
    C.header.status('signed-out', 'Not signed in');
    byId('login-username').focus();
    if (form.dataset.bound) return;
    form.dataset.bound = '1';
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      submitLogin(form);
    });
  }

  function submitLogin(form) {
    var err = byId('login-error');
    var submit = form.querySelector('[type=submit]');
    var username = byId('login-username').value.trim();
    var password = byId('login-password').value;
    function fail(text) { err.textContent = text; err.hidden = false; }
    if (!username || !password) { fail('Enter your user name and password.'); return; }
    submit.disabled = true;
    err.hidden = true;
    C.api('/api/login', {method: 'POST', body: {username: username, password: password}}).then(function (res) {
      submit.disabled = false;
      if (!res.ok || !res.body.token) {
        fail(res.body.error || ('Sign-in failed (HTTP ' + res.status + ')'));
        return;
      }
      byId('login-password').value = '';
      byId('login').hidden = true;
      doc.body.classList.remove('login-open');
      if (loginDone) loginDone(res.body);
    }, function (e) {
      submit.disabled = false;
      fail('Cannot reach the ctikit server (' + e.message + ').');
    });
  }

  /**
   * Find out who uses the console, signing in first if needed, then call
   * `start(agent, who)`: the agent from the URL, else the user's own.
   */
  function begin(agentParam, start) {
    C.api('/api/whoami').then(function (res) {
      if (res.status === 401) {
        showLogin(null, function (login) {
          start(agentParam || login.agent || '', {user: login.user, role: login.role, agent: login.agent, demo: false});
        });
        return;
      }
      // 404: a server without accounts; treat as open.
      start(agentParam || (res.ok ? res.body.agent : '') || '', res.ok ? res.body : {});
    }, function () {
      start(agentParam, {}); // server unreachable: the connection keeps trying
    });
  }

  /** The session of a started console: `who` is what /api/whoami (or /api/login) said. */
  function Session(who) {
    this.who = who || {};
    this.signedIn = !this.who.demo && typeof this.who.user === 'string' && this.who.user !== '';
    this.conn = null;
    this._probing = false;
  }

  /** Show the user in the header; sign-out ends the session and reloads. */
  Session.prototype.showUser = function () {
    var self = this;
    if (!this.signedIn) return;
    C.header.user(this.who.user, function () {
      if (self.conn) self.conn.stop();
      var reload = function () { global.location.reload(); };
      C.api('/api/logout', {method: 'POST', body: {}}).then(reload, reload);
    });
  };

  /** A socket that keeps failing may mean the session ended (expired, user removed). */
  Session.prototype.watch = function (conn) {
    var self = this;
    this.conn = conn;
    conn.onStatus(function (status) {
      if (status !== 'reconnecting' || self._probing || !self.signedIn) return;
      self._probing = true;
      setTimeout(function () {
        C.api('/api/whoami').then(function (res) {
          self._probing = false;
          if (res.status === 401) self.lost();
        }, function () { self._probing = false; });
      }, PROBE_DELAY_MS);
    });
  };

  /** The session is gone: stop, and ask to sign in again. */
  Session.prototype.lost = function () {
    if (this.conn) this.conn.stop();
    showLogin('Your session has ended: sign in again.', function () { global.location.reload(); });
  };

  C.session = {begin: begin, showLogin: showLogin};
  C.Session = Session;
})(window);
