/*
 * ctikit supervisor page: a read-only view of agents, their calls and the latest call logs,
 * refreshed every few seconds from the REST API. Data is shown with textContent only, and
 * identifiers from outside (agent IDs, call states) are looked up in Maps, never as keys of
 * plain objects (an agent named "__proto__" or "toString" is just another agent).
 */
(function () {
  'use strict';

  var REFRESH_MS = 3000;
  var STATE_TEXT = new Map([
    ['ringing', 'Ringing'], ['dialing', 'Dialing'], ['connected', 'Connected'], ['held', 'On hold']
  ]);

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return '';
    seconds = Math.max(0, Math.floor(seconds));
    return Math.floor(seconds / 60) + ':' + pad2(seconds % 60);
  }
  function time(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }
  // The session is the HttpOnly cookie /api/login sets; a 401 asks to sign in.
  function AuthNeeded() { this.message = 'sign in first'; }
  function getJSON(url) {
    return fetch(url, {credentials: 'same-origin', cache: 'no-store'}).then(function (r) {
      if (r.status === 401) throw new AuthNeeded();
      return r.json().then(function (body) {
        if (!r.ok || body.success === false) throw new Error(body.error || ('HTTP ' + r.status));
        return body;
      });
    });
  }
  function post(url, body) {
    return fetch(url, {method: 'POST', credentials: 'same-origin', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify(body)}).then(function (r) {
      return r.json().then(function (b) { return {ok: r.ok, status: r.status, body: b || {}}; },
        function () { return {ok: r.ok, status: r.status, body: {}}; });
    });
  }

  var paused = false;
  function showLogin() {
    paused = true;
    $('login').hidden = false;
    $('login-username').focus();
  }
  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    $('login-error').hidden = true;
    post('/api/login', {username: $('login-username').value.trim(), password: $('login-password').value})
      .then(function (res) {
        if (!res.ok) {
          $('login-error').textContent = res.body.error || ('Sign-in failed (HTTP ' + res.status + ')');
          $('login-error').hidden = false;
          return;
        }
        $('login-password').value = '';
        $('login').hidden = true;
        paused = false;
        showWho();
        loop();
      });
  });
  $('logout').addEventListener('click', function () {
    post('/api/logout', {}).then(function () { location.reload(); });
  });
  function showWho() {
    getJSON('/api/whoami').then(function (who) {
      if (!who.demo && who.user) {
        $('user').textContent = who.user;
        $('logout').hidden = false;
      }
    }, function () { /* shown by refresh() */ });
  }
  showWho();

  function callPill(call) {
    var state = call.lineState || 'component';
    var who = call.type === 'OUTBOUND' ? (call.dnis || call.label) : (call.ani || call.label);
    var since = call.answeredAt || call.startedAt;
    var text = (STATE_TEXT.get(state) || 'In progress') + ' · ' + (who || call.id) +
      (since ? ' · ' + duration(Date.now() / 1000 - since) : '') + (call.muted ? ' · muted' : '');
    var pill = el('span', text, 'pill state-' + state);
    pill.setAttribute('data-testid', 'agent-call');
    return pill;
  }

  function renderAgents(agents, callsByAgent) {
    var body = $('agents');
    clear(body);
    $('agents-empty').hidden = agents.length > 0;
    agents.forEach(function (a) {
      var tr = el('tr');
      tr.setAttribute('data-testid', 'agent-row');
      tr.setAttribute('data-agent', a.id);
      var link = el('a', a.id);
      link.href = '/console?agent=' + encodeURIComponent(a.id);
      var td = el('td');
      td.appendChild(link);
      tr.appendChild(td);
      tr.appendChild(el('td', a.connections));
      tr.appendChild(el('td', a.activeCalls));
      var calls = el('td');
      (callsByAgent.get(a.id) || []).forEach(function (c) { calls.appendChild(callPill(c)); });
      tr.appendChild(calls);
      body.appendChild(tr);
    });
  }

  function renderLogs(logs) {
    var body = $('logs');
    clear(body);
    $('logs-empty').hidden = logs.length > 0;
    logs.forEach(function (log) {
      var tr = el('tr');
      tr.setAttribute('data-testid', 'log-row');
      tr.setAttribute('data-log-id', log.id);
      tr.title = 'Log ' + log.id;
      tr.appendChild(el('td', time(log.created_at)));
      tr.appendChild(el('td', log.agent_id));
      var call = el('td');
      call.appendChild(el('div', log.label || log.ani || log.dnis || ''));
      call.appendChild(el('div', log.call_id, 'mono muted'));
      tr.appendChild(call);
      tr.appendChild(el('td', log.call_type || ''));
      tr.appendChild(el('td', duration(log.duration_seconds)));
      tr.appendChild(el('td', log.disposition || ''));
      tr.appendChild(el('td', log.subject || ''));
      body.appendChild(tr);
    });
  }

  function refresh() {
    return Promise.all([getJSON('/api/agents'), getJSON('/api/call-logs?limit=25')]).then(function (res) {
      var agents = res[0].agents || [];
      var logs = res[1].logs || [];
      var busy = agents.filter(function (a) { return a.activeCalls > 0; });
      return Promise.all(busy.map(function (a) {
        return getJSON('/api/agents/' + encodeURIComponent(a.id) + '/calls')
          .then(function (r) { return [a.id, r.calls || []]; }, function () { return [a.id, []]; });
      })).then(function (pairs) {
        renderAgents(agents, new Map(pairs));
        renderLogs(logs);
        $('error').hidden = true;
        $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
      });
    }).catch(function (e) {
      if (e instanceof AuthNeeded) { showLogin(); return; }
      $('error').textContent = 'Cannot reach the ctikit server: ' + e.message;
      $('error').hidden = false;
    });
  }

  function loop() {
    if (paused) return;
    refresh().then(function () { if (!paused) setTimeout(loop, REFRESH_MS); });
  }
  loop();
})();
