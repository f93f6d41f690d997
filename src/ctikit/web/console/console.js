/*
 * ctikit agent console: boot, call state store, header, notices, component slots.
 *
 * State comes from the server only: the hello frame (and getState) give a snapshot, events
 * update it, and every change re-renders the softphone and the interaction log from the
 * whole state. Everything that shows data uses DOM nodes / textContent, never innerHTML.
 */
(function (global) {
  'use strict';

  var doc = global.document;

  // ---- small DOM helper (text children become text nodes: no HTML parsing of data) -------
  function h(tag, attrs) {
    var el = doc.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, k)) continue;
        var v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === 'text') el.textContent = String(v);
        else if (k === 'className') el.className = v;
        else if (k === 'dataset') { for (var d in v) el.dataset[d] = v[d]; }
        else if (k.slice(0, 2) === 'on' && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'object' ? child : doc.createTextNode(String(child)));
  }

  // ---- formatting ----------------------------------------------------------------------
  function pad2(n) { return (n < 10 ? '0' : '') + n; }
  function formatDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    var hrs = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (hrs ? hrs + ':' + pad2(m) : m) + ':' + pad2(s);
  }
  function formatClock(epochSeconds) {
    if (!epochSeconds) return '';
    var d = new Date(epochSeconds * 1000);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }
  /** Caller number for display: ANI for inbound, DNIS for outbound. */
  function callNumber(call) {
    if (!call) return '';
    var data = (call.data && typeof call.data === 'object') ? call.data : {};
    if (call.type === 'OUTBOUND') return call.dnis || data.DNIS || call.label || '';
    return call.ani || data.ANI || call.label || '';
  }
  function callTitle(call) {
    var num = callNumber(call);
    var label = call.label || '';
    if (label && num && label !== num) return label + ' (' + num + ')';
    return label || num || call.id;
  }

  // ---- the store -------------------------------------------------------------------------
  var MAX_RECENT = 50;

  function Store(conn) {
    this.conn = conn;
    this.calls = [];        // active calls, arrival order
    this.recent = [];       // ended calls, newest last
    this.lineUp = null;     // null/true = up, false = down
    this.lineReason = null;
    this.seq = null;
    this.connector = null;
    this.clockOffset = 0;   // server time - local time (seconds), from event timestamps
    this._fns = [];
    this._refetching = false;
  }
  Store.prototype.subscribe = function (fn) { this._fns.push(fn); };
  Store.prototype._changed = function (frame) {
    for (var i = 0; i < this._fns.length; i++) {
      try { this._fns[i](this, frame || null); } catch (e) { console.error('ctikit console: render failed', e); }
    }
  };
  Store.prototype.now = function () { return Date.now() / 1000 + this.clockOffset; };
  Store.prototype.find = function (id) {
    for (var i = 0; i < this.calls.length; i++) if (this.calls[i].id === id) return this.calls[i];
    return null;
  };
  Store.prototype.findRecent = function (id) {
    for (var i = this.recent.length - 1; i >= 0; i--) if (this.recent[i].id === id) return this.recent[i];
    return null;
  };
  Store.prototype.snapshot = function (frame) {
    this.calls = Array.isArray(frame.calls) ? frame.calls.filter(isCall) : [];
    this.recent = Array.isArray(frame.recent) ? frame.recent.filter(isCall) : [];
    this._setLine(frame.lineUp);
    if (typeof frame.seq === 'number') this.seq = frame.seq;
    if (frame.connector) this.connector = frame.connector;
    this._changed(null);
  };
  Store.prototype._setLine = function (up, reason) {
    if (up === undefined) return;
    this.lineUp = up;                       // null = unknown (treated as up)
    this.lineReason = up === false ? (reason || null) : null;
  };
  Store.prototype.refetch = function () {
    var self = this;
    if (this._refetching) return;
    this._refetching = true;
    this.conn.request('getState', {}).then(function (resp) {
      self._refetching = false;
      if (resp && resp.success) self.snapshot(resp);
    });
  };
  Store.prototype.applyEvent = function (frame) {
    var data = (frame.data && typeof frame.data === 'object') ? frame.data : {};
    if (typeof frame.at === 'number') this.clockOffset = frame.at - Date.now() / 1000;
    var gap = typeof frame.seq === 'number' && typeof this.seq === 'number' && frame.seq > this.seq + 1;
    if (typeof frame.seq === 'number') {
      if (this.seq !== null && frame.seq <= this.seq) return; // already seen (e.g. in a snapshot)
      this.seq = frame.seq;
    }
    var call = isCall(data.call) ? data.call : null;
    switch (frame.event) {
      case 'callBegin':
        if (call) this._upsert(call);
        break;
      case 'callUpdate':
        if (call) {
          if (this.find(call.id) || !call.endedAt) this._upsert(call);
        }
        break;
      case 'callEnd': {
        var id = data.id || (call && call.id);
        var ended = call || this.find(id);
        this.calls = this.calls.filter(function (c) { return c.id !== id; });
        if (ended) {
          ended = Object.assign({}, ended);
          if (!ended.endedAt) ended.endedAt = typeof frame.at === 'number' ? frame.at : this.now();
          if (data.duration !== undefined && ended.duration === null) ended.duration = Number(data.duration);
          if (data.disposition !== undefined && !ended.disposition) ended.disposition = data.disposition;
          this.recent = this.recent.filter(function (c) { return c.id !== id; });
          this.recent.push(ended);
          if (this.recent.length > MAX_RECENT) this.recent = this.recent.slice(-MAX_RECENT);
        }
        break;
      }
      case 'callIds':
        this.refetch();
        break;
      case 'lineStatus':
        this._setLine(data.up === false ? false : true, data.reason);
        break;
      default:
        break;
    }
    if (gap && frame.event !== 'callIds') this.refetch();
    this._changed(frame);
  };
  Store.prototype._upsert = function (call) {
    for (var i = 0; i < this.calls.length; i++) {
      if (this.calls[i].id === call.id) { this.calls[i] = call; return; }
    }
    this.calls.push(call);
    this.recent = this.recent.filter(function (c) { return c.id !== call.id; });
  };
  function isCall(c) { return !!c && typeof c === 'object' && typeof c.id === 'string'; }

  // ---- notices (dismissable messages under the header) ------------------------------------
  function Notices(root) { this.root = root; this.keyed = {}; }
  /** Show a message; kind: error | warning | info. key: replace an earlier notice with this key. */
  Notices.prototype.show = function (kind, text, opts) {
    opts = opts || {};
    var self = this;
    if (opts.key && this.keyed[opts.key]) this.dismiss(this.keyed[opts.key]);
    var box = h('div', {
      className: 'notice notice-' + kind, role: kind === 'error' ? 'alert' : 'status',
      'data-testid': opts.testid || ('notice-' + kind)
    });
    box.appendChild(h('span', {className: 'notice-text', 'data-testid': 'notice-text', text: text}));
    if (opts.dismissable !== false) {
      box.appendChild(h('button', {
        type: 'button', className: 'notice-close', 'aria-label': 'Dismiss', title: 'Dismiss',
        'data-testid': 'notice-dismiss', text: '×', onclick: function () { self.dismiss(box); }
      }));
    }
    if (opts.key) { box.dataset.key = opts.key; this.keyed[opts.key] = box; }
    this.root.appendChild(box);
    // Keep the list short: the oldest go first.
    var all = this.root.querySelectorAll('.notice');
    for (var i = 0; i < all.length - 5; i++) this.dismiss(all[i]);
    if (opts.timeoutMs) setTimeout(function () { self.dismiss(box); }, opts.timeoutMs);
    return box;
  };
  Notices.prototype.dismiss = function (box) {
    if (!box) return;
    if (typeof box === 'string') box = this.keyed[box];
    if (!box) return;
    if (box.dataset.key && this.keyed[box.dataset.key] === box) delete this.keyed[box.dataset.key];
    if (box.parentNode) box.parentNode.removeChild(box);
  };

  // ---- header status badge ---------------------------------------------------------------
  var STATUS_TEXT = {connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…'};
  function renderStatus(status) {
    var badge = doc.getElementById('connection-status');
    badge.dataset.state = status;
    badge.querySelector('.status-text').textContent = STATUS_TEXT[status] || status;
    doc.body.dataset.connection = status;
  }

  // ---- component slots -------------------------------------------------------------------
  function addComponents(components, bridge) {
    var root = doc.getElementById('components');
    var empty = doc.getElementById('components-empty');
    var list = Array.isArray(components) ? components : [];
    empty.hidden = list.length > 0;
    list.forEach(function (comp) {
      var url = null;
      try { url = comp && typeof comp.url === 'string' ? new URL(comp.url, global.location.href) : null; }
      catch (e) { url = null; }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        console.warn('ctikit console: skipping component with a bad URL', comp);
        return;
      }
      var name = String(comp.name || comp.url);
      var iframe = h('iframe', {
        className: 'component-frame', title: name, name: name,
        'data-testid': 'component-frame-' + name, loading: 'eager'
      });
      var slot = h('section', {className: 'slot', 'data-testid': 'component-' + name, 'aria-label': name},
        h('h2', {className: 'slot-title', text: name}),
        iframe);
      var height = Number(comp.height);
      if (height >= 50 && height <= 4000) {
        iframe.style.height = height + 'px';
      }
      root.appendChild(slot);
      if (bridge) {
        try { bridge.addComponent(iframe, url.href); } catch (e) { console.error('ctikit console: bridge refused component', name, e); }
      } else {
        slot.appendChild(h('p', {className: 'slot-error', text: 'Component bridge unavailable: ' + name + ' cannot be loaded.'}));
      }
    });
  }

  // ---- REST (the session is an HttpOnly cookie set by /api/login: scripts never see it) ----
  /** fetch() JSON; resolves {status, ok, body} (never rejects on HTTP errors). */
  function api(path, options) {
    options = options || {};
    var headers = {'Accept': 'application/json'};
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    return global.fetch(path, {
      method: options.method || 'GET', headers: headers, credentials: 'same-origin', cache: 'no-store',
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined
    }).then(function (r) {
      return r.json().then(function (body) { return body; }, function () { return null; })
        .then(function (body) { return {status: r.status, ok: r.ok, body: body || {}}; });
    });
  }

  // ---- login -------------------------------------------------------------------------------
  var loginDone = null;
  function showLogin(message, then) {
    var box = doc.getElementById('login');
    var form = doc.getElementById('login-form');
    var msg = doc.getElementById('login-message');
    var err = doc.getElementById('login-error');
    loginDone = then;
    msg.textContent = message || '';
    msg.hidden = !message;
    err.hidden = true;
    box.hidden = false;
    doc.body.classList.add('login-open');
    var badge = doc.getElementById('connection-status');
    badge.dataset.state = 'signed-out';
    badge.querySelector('.status-text').textContent = 'Not signed in';
    doc.getElementById('login-username').focus();
    if (form.dataset.bound) return;
    form.dataset.bound = '1';
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var submit = form.querySelector('[type=submit]');
      var username = doc.getElementById('login-username').value.trim();
      var password = doc.getElementById('login-password').value;
      if (!username || !password) {
        err.textContent = 'Enter your user name and password.';
        err.hidden = false;
        return;
      }
      submit.disabled = true;
      err.hidden = true;
      api('/api/login', {method: 'POST', body: {username: username, password: password}}).then(function (res) {
        submit.disabled = false;
        if (!res.ok || !res.body.token) {
          err.textContent = res.body.error || ('Sign-in failed (HTTP ' + res.status + ')');
          err.hidden = false;
          return;
        }
        var b = res.body;
        doc.getElementById('login-password').value = '';
        box.hidden = true;
        doc.body.classList.remove('login-open');
        if (loginDone) loginDone(b);
      }, function (e) {
        submit.disabled = false;
        err.textContent = 'Cannot reach the ctikit server (' + e.message + ').';
        err.hidden = false;
      });
    });
  }

  // ---- boot --------------------------------------------------------------------------------
  function boot() {
    var params = new URLSearchParams(global.location.search);
    var agentParam = params.get('agent') || '';
    var app = global.CtikitConsole;
    app.notices = new Notices(doc.getElementById('notices'));
    app.api = api;
    api('/api/whoami').then(function (res) {
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

  function start(agent, who) {
    var app = global.CtikitConsole;
    var notices = app.notices;
    who = who || {};
    var signedIn = !who.demo && typeof who.user === 'string' && who.user !== '';
    doc.getElementById('agent-id').textContent = agent || '—';
    if (signedIn) {
      doc.getElementById('user-name').textContent = who.user;
      doc.getElementById('user-name').title = 'Signed in as ' + who.user;
      doc.getElementById('user-box').hidden = false;
      doc.getElementById('logout').addEventListener('click', function () {
        if (app.conn) app.conn.stop();
        api('/api/logout', {method: 'POST', body: {}}).then(function () { global.location.reload(); },
          function () { global.location.reload(); });
      });
    }
    if (!/^[A-Za-z0-9._@+-]{1,64}$/.test(agent)) {
      renderStatus('connecting');
      notices.show('error', agent
        ? 'Invalid agent ID. Use 1–64 letters, digits and . _ @ + -'
        : 'No agent ID: open this console as /console?agent=YOUR_ID', {dismissable: false, testid: 'agent-error'});
      doc.getElementById('connection-status').querySelector('.status-text').textContent = 'No agent';
      return;
    }
    if (new URLSearchParams(global.location.search).get('agent') !== agent) {
      try { global.history.replaceState(null, '', '/console?agent=' + encodeURIComponent(agent)); } catch (e) { /* ignore */ }
    }
    doc.title = agent + ' · ctikit console';

    var wsUrl = (global.location.protocol === 'https:' ? 'wss://' : 'ws://') + global.location.host +
      '/ws?agent=' + encodeURIComponent(agent);
    var conn = new global.CtikitConnection({url: wsUrl}); // the session cookie goes with it
    var store = new Store(conn);
    var readOnly = false;
    app.conn = conn;
    app.store = store;
    app.agent = agent;
    app.who = who;

    var bridge = null;
    if (typeof global.CtikitBridge === 'function') {
      try { bridge = new global.CtikitBridge({connection: conn, consoleOrigin: global.location.origin}); }
      catch (e) { console.error('ctikit console: bridge failed to start', e); }
    }
    app.bridge = bridge;

    // A socket that keeps failing may mean the login ended (expired, user removed).
    var probing = false;
    function authLost() {
      conn.stop();
      showLogin('Your session has ended: sign in again.', function () { global.location.reload(); });
    }
    conn.onStatus(function (status) {
      renderStatus(status);
      if (status !== 'reconnecting' || probing || !signedIn) return;
      probing = true;
      setTimeout(function () {
        api('/api/whoami').then(function (res) {
          probing = false;
          if (res.status === 401) authLost();
        }, function () { probing = false; });
      }, 1500);
    });
    renderStatus(conn.status);
    conn.onHello(function (frame) {
      if (frame.connector) setConnector(frame.connector);
      if (frame.resumed === 'replay') {
        // The server replays what we missed as events; our state is kept.
        if (typeof frame.seq === 'number') store.seq = frame.seq;
        return;
      }
      store.snapshot(frame);
    });
    conn.onEvent(function (frame) {
      store.applyEvent(frame);
      var data = frame.data || {};
      if (frame.event === 'callFailed') {
        var num = data.number ? String(data.number) : '';
        notices.show('error', 'Call ' + (num ? 'to ' + num + ' ' : '') + 'failed: ' + String(data.reason || 'unknown reason'),
          {testid: 'call-failed'});
      }
    });

    var softphone = new global.CtikitSoftphone({
      store: store, conn: conn, notices: notices,
      linesRoot: doc.getElementById('lines'),
      noCalls: doc.getElementById('no-calls'),
      announcer: doc.getElementById('announcer'),
      dialForm: doc.getElementById('dialpad'),
      dialInput: doc.getElementById('dial-input'),
      dialKeypad: doc.getElementById('dial-keypad'),
      dialKeypadToggle: doc.getElementById('dial-keypad-toggle')
    });
    var log = new global.CtikitInteractionLog({store: store, conn: conn, root: doc.getElementById('interaction-log')});
    app.softphone = softphone;
    app.log = log;
    // Render once per animation frame, however many events arrived: the bridge has already
    // posted each event to the components, and their handlers should not wait for our layout
    // (bench/PROPOSALS.md #6). A hidden tab gets no animation frames: a timer stands in.
    var renderPending = false;
    function renderNow() {
      if (!renderPending) return;
      renderPending = false;
      softphone.render(store);
      log.render(store);
      renderLineBanner(store);
    }
    store.subscribe(function () {
      if (renderPending) return;
      renderPending = true;
      if (global.requestAnimationFrame) global.requestAnimationFrame(renderNow);
      global.setTimeout(renderNow, 100);
    });

    function renderLineBanner(s) {
      if (s.lineUp === false) {
        if (!notices.keyed['line-down']) {
          notices.show('warning', 'Telephony line is down' + (s.lineReason ? ': ' + s.lineReason : '') +
            '. Calls cannot be placed or received until it is back.', {key: 'line-down', testid: 'line-down', dismissable: false});
        }
      } else {
        notices.dismiss('line-down');
      }
    }

    // The directory: this agent's name and extension in the header, the others as transfer targets.
    function showAgents(agents) {
      if (!Array.isArray(agents)) return;
      var targets = doc.getElementById('transfer-targets');
      agents.forEach(function (a) {
        if (!a || typeof a.id !== 'string') return;
        if (a.id === agent) {
          var extra = [a.name, a.extension ? 'ext. ' + a.extension : null].filter(Boolean).join(' · ');
          doc.getElementById('agent-detail').textContent = extra;
        } else {
          targets.appendChild(h('option', {value: a.extension || a.id, label: (a.name || a.id) + (a.extension ? ' (' + a.id + ')' : '')}));
        }
      });
    }

    // A supervisor watching an agent's console: everything shows, nothing can be changed.
    function setReadOnly() {
      readOnly = true;
      log.readOnly = true;
      log.render(store);
      doc.body.classList.add('read-only');
      doc.getElementById('read-only').hidden = false;
      simulate.hidden = true;
      Array.prototype.forEach.call(doc.querySelectorAll('#log-form input, #log-form select, #log-form textarea, #log-form button, #dialpad input, #dialpad button'),
        function (el) { el.disabled = true; });
      notices.show('info', 'You are watching ' + agent + "'s console: read-only.", {testid: 'read-only-hint'});
    }

    var simulate = doc.getElementById('simulate-call');
    function setConnector(connector) {
      store.connector = connector;
      doc.getElementById('connector-name').textContent = connector && connector.name ? 'Line: ' + connector.name : '';
      simulate.hidden = readOnly || !(connector && connector.canPlaceCalls);
    }
    simulate.addEventListener('click', function () {
      simulate.disabled = true;
      conn.request('simulateCall', {}).then(function (resp) {
        simulate.disabled = false;
        if (!resp.success) notices.show('error', 'Simulated call failed: ' + (resp.error || 'unknown error'), {testid: 'softphone-error'});
      });
    });

    conn.start();
    api('/api/console/config?agent=' + encodeURIComponent(agent)).then(function (res) {
      var cfg = res.body || {};
      if (res.status === 401) { authLost(); return; }
      if (res.status === 403) {
        conn.stop();
        renderStatus('connecting');
        doc.getElementById('connection-status').querySelector('.status-text').textContent = 'Not allowed';
        notices.show('error', cfg.error || ('You may not open the console of ' + agent + '.'),
          {testid: 'forbidden', dismissable: false});
        return;
      }
      if (!res.ok || cfg.success === false) throw new Error(cfg.error || ('HTTP ' + res.status));
      app.config = cfg;
      if (cfg.user && cfg.user.readOnly) setReadOnly();
      if (cfg.connector) setConnector(cfg.connector);
      if (Array.isArray(cfg.nodes)) {
        conn.setUrls(cfg.nodes.map(function (n) {
          return String(n).replace(/^http/, 'ws') + '/ws?agent=' + encodeURIComponent(agent);
        }));
      }
      if (cfg.demo) {
        notices.show('info', 'Demo mode: press "Simulate call" to make a test call ring on this console.', {testid: 'demo-hint'});
      }
      showAgents(cfg.agents);
      addComponents(cfg.components, bridge);
    }).catch(function (e) {
      notices.show('error', 'Could not load the console configuration (' + e.message + '); components are not shown.',
        {testid: 'config-error'});
    });

    // Live timers.
    global.setInterval(function () { softphone.tick(); }, 1000);
  }

  global.CtikitConsole = {
    h: h,
    formatDuration: formatDuration,
    formatClock: formatClock,
    callNumber: callNumber,
    callTitle: callTitle,
    Store: Store,
    Notices: Notices
  };

  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', boot);
  else boot();
})(window);
