/*
 * ctikit supervisor page: the live board of the supervisor's team (docs/supervisor.md). The
 * server pushes it over /ws/supervisor on every change (agent states, calls, the day's
 * numbers, alerts); the page only ticks the time-in-state clocks, and reads the latest call
 * logs again when a pushed board says a call was handled. Data is shown with textContent only, and
 * identifiers from outside (agent IDs, call states) are looked up in Maps, never as keys of
 * plain objects (an agent named "__proto__" or "toString" is just another agent).
 */
(function () {
  'use strict';

  var RECONNECT_MS = 1000;
  var STATUS_TEXT = new Map([
    ['available', 'Available'], ['away', 'Away'], ['offline', 'Offline'], ['acw', 'After-call work']
  ]);
  var ALERT_TEXT = new Map([
    ['ringing_too_long', 'ringing for'], ['held_too_long', 'on hold for'], ['offline_with_call', 'offline with a call for']
  ]);
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
        start();
      });
  });
  $('logout').addEventListener('click', function () {
    post('/api/logout', {}).then(function () { location.reload(); });
  });
  function showWho(who) {
    if (!who.demo && who.user) {
      $('user').textContent = who.user;
      $('logout').hidden = false;
    }
  }

  function callPill(call) {
    var state = call.lineState || 'component';
    var who = call.type === 'OUTBOUND' ? (call.dnis || call.label) : (call.ani || call.label);
    // On hold: the time on hold (as the alert counts it), not since the answer.
    var since = (state === 'held' && call.heldSince) || call.answeredAt || call.startedAt;
    var text = (STATE_TEXT.get(state) || 'In progress') + ' · ' + (who || call.id) +
      (since ? ' · ' + duration(Date.now() / 1000 - since) : '') + (call.muted ? ' · muted' : '');
    var pill = el('span', text, 'pill state-' + state);
    pill.setAttribute('data-testid', 'agent-call');
    return pill;
  }

  var clockOffset = 0; // server time - browser time, from each board's "at"
  function serverNow() { return Date.now() / 1000 + clockOffset; }

  function stateText(state) {
    var text = STATUS_TEXT.get(state.status) || String(state.status);
    return state.status === 'away' && state.reason ? text + ' — ' + state.reason : text;
  }

  function renderAgents(board) {
    var body = $('agents');
    clear(body);
    var count = 0;
    board.teams.forEach(function (team) {
      var head = el('tr', null, 'team-row');
      var th = el('th', team.team ? 'Team ' + team.team : 'No team');
      th.colSpan = 4;
      th.scope = 'colgroup';
      head.appendChild(th);
      head.setAttribute('data-testid', 'team-row');
      body.appendChild(head);
      team.agents.forEach(function (a) {
        count++;
        var tr = el('tr');
        tr.setAttribute('data-testid', 'agent-row');
        tr.setAttribute('data-agent', a.id);
        var link = el('a', a.name);
        link.href = '/console?agent=' + encodeURIComponent(a.id);
        link.title = 'Watch the console of ' + a.id;
        var td = el('td');
        td.appendChild(link);
        if (a.name !== a.id) td.appendChild(el('div', a.id, 'mono muted'));
        tr.appendChild(td);
        var pill = el('span', stateText(a.state), 'pill status-' + a.state.status);
        pill.setAttribute('data-testid', 'agent-state');
        pill.setAttribute('data-status', a.state.status);
        var st = el('td');
        st.appendChild(pill);
        tr.appendChild(st);
        var time = el('td', '', 'tabular');
        time.setAttribute('data-testid', 'agent-state-time');
        time.setAttribute('data-since', a.state.since === null ? '' : String(a.state.since));
        time.setAttribute('data-acw-until', a.state.acwUntil === null ? '' : String(a.state.acwUntil));
        tr.appendChild(time);
        var calls = el('td');
        a.calls.forEach(function (c) { calls.appendChild(callPill(c)); });
        tr.appendChild(calls);
        body.appendChild(tr);
      });
    });
    $('agents-empty').hidden = count > 0;
    tickClocks();
  }

  /** Time in state (or after-call work left), every second, from the server's clock. */
  function tickClocks() {
    var now = serverNow();
    Array.prototype.forEach.call(document.querySelectorAll('[data-testid="agent-state-time"]'), function (td) {
      var since = td.getAttribute('data-since'), until = td.getAttribute('data-acw-until');
      td.textContent = until ? 'wrap-up, ' + duration(Number(until) - now) + ' left'
        : since ? duration(now - Number(since)) : '';
    });
    Array.prototype.forEach.call(document.querySelectorAll('[data-testid="alert"]'), function (li) {
      li.querySelector('.alert-time').textContent = duration(now - Number(li.getAttribute('data-since')));
    });
  }

  function renderStats(stats) {
    $('stat-ringing').textContent = String(stats.ringing);
    $('stat-handled').textContent = String(stats.handledToday);
    $('stat-aht').textContent = stats.averageHandleSeconds === null ? '–' : duration(stats.averageHandleSeconds);
    $('stat-sl-label').textContent = 'Service level (answered ≤ ' + stats.serviceLevelSeconds + ' s)';
    $('stat-sl').textContent = stats.serviceLevel === null ? '–' : Math.round(stats.serviceLevel * 100) + '%';
  }

  /** Alerts: kept by key, so a firing alert is announced once and stays put. */
  var shownAlerts = new Map();
  function renderAlerts(alerts) {
    var list = $('alerts');
    var keep = new Set();
    alerts.forEach(function (a) {
      var key = a.kind + '\n' + a.agent + '\n' + a.callId;
      keep.add(key);
      if (shownAlerts.has(key)) return;
      var li = el('li');
      li.setAttribute('data-testid', 'alert');
      li.setAttribute('data-kind', a.kind);
      li.setAttribute('data-agent', a.agent);
      li.setAttribute('data-since', String(a.since));
      li.appendChild(document.createTextNode(a.name + ': ' + (ALERT_TEXT.get(a.kind) || a.kind) + ' '));
      li.appendChild(el('span', '', 'alert-time tabular'));
      list.appendChild(li);
      shownAlerts.set(key, li);
    });
    shownAlerts.forEach(function (li, key) {
      if (!keep.has(key)) { li.remove(); shownAlerts.delete(key); }
    });
    $('alerts-empty').hidden = alerts.length > 0;
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

  var lastHandled = null;
  function refreshLogs() {
    return getJSON('/api/call-logs?limit=25').then(function (res) { renderLogs(res.logs || []); });
  }

  function showBoard(board) {
    clockOffset = board.at - Date.now() / 1000;
    renderStats(board.stats);
    renderAlerts(board.alerts);
    renderAgents(board);
    $('error').hidden = true;
    $('updated').textContent = 'Live · ' + new Date().toLocaleTimeString();
    // A call handled, or a log saved (mostly in wrap-up, after the call): read the logs again.
    var logsKey = board.stats.handledToday + '/' + board.logsSaved;
    if (logsKey !== lastHandled) {
      lastHandled = logsKey;
      refreshLogs().catch(function () { /* the board still works */ });
    }
  }

  var socket = null;
  function connect() {
    if (paused) return;
    var url = location.origin.replace(/^http/, 'ws') + '/ws/supervisor';
    socket = new WebSocket(url);
    socket.onmessage = function (ev) {
      var board;
      try { board = JSON.parse(ev.data); } catch (e) { return; }
      if (board && board.type === 'board' && Array.isArray(board.teams)) showBoard(board);
    };
    socket.onclose = function () {
      socket = null;
      if (paused) return;
      $('updated').textContent = 'Reconnecting…';
      // A refused socket may mean the session ended: ask again before retrying.
      setTimeout(start, RECONNECT_MS);
    };
  }

  function start() {
    getJSON('/api/whoami').then(function (who) {
      showWho(who);
      if (who.role === 'agent') {
        $('error').textContent = 'The supervisor page is for supervisors; agents use the console.';
        $('error').hidden = false;
        return;
      }
      connect();
    }).catch(function (e) {
      if (e instanceof AuthNeeded) { showLogin(); return; }
      $('error').textContent = 'Cannot reach the ctikit server: ' + e.message;
      $('error').hidden = false;
      setTimeout(start, RECONNECT_MS * 3);
    });
  }
  setInterval(tickClocks, 1000);
  start();
})();
