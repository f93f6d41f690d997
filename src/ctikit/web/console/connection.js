/*
 * ctikit console: the one WebSocket connection from the agent console to the ctikit server.
 *
 *   const conn = new CtikitConnection({url: 'ws://127.0.0.1:8080/ws?agent=a1'});
 *   conn.onHello(frame => ...);   // every hello (first frame after each (re)connect)
 *   conn.onEvent(frame => ...);   // every {type:"event", seq, event, data, at}
 *   conn.onStatus(s => ...);      // 'connecting' | 'connected' | 'reconnecting'
 *   conn.onPhone(frame => ...);   // {type:"phone", cmd, ref, ...}: a command for the
 *                                 // browser phone (webrtc connector, docs/webrtc.md)
 *   conn.start();
 *   conn.request('getState', {}).then(resp => ...);  // never rejects
 *
 * request() resolves with the server's response frame ({type:"response", id, success, ...}).
 * It never rejects: if the request cannot be answered within `timeoutMs` (10 s) it resolves
 * {success:false, error:"timed out"} (or "not connected" when no connection came up in that
 * time). A sendCTIMessage gets 5 s more than the server's own limit for commands (the hello's
 * `limits.commandTimeout`): its reply waits until the telephony did it (docs/protocol.md). Requests made while (re)connecting are queued and sent once the hello arrives.
 * Reconnects use exponential back-off from 0.25 s to 5 s with jitter.
 * See docs/protocol.md §1 for the frames.
 *
 * Options beyond `url`: `token` (a string, or a function returning one) is sent as the
 * `token` query parameter (browsers cannot set headers on a WebSocket). After a reconnect the
 * connection asks for what it missed with `since=<last seq>&epoch=<hello epoch>`; the server
 * then answers a hello with `resumed: "replay"` (no `calls`) followed by the missed events,
 * or a full hello (`resumed: "snapshot"`) when it cannot replay.
 */
(function (global) {
  'use strict';

  var DEFAULTS = {
    timeoutMs: 10000,
    minBackoffMs: 250,
    maxBackoffMs: 5000
  };

  function CtikitConnection(options) {
    options = options || {};
    if (!options.url) throw new Error('CtikitConnection: url is required');
    this.url = options.url;
    // Other nodes of a cluster to fail over to, in order (setUrls); this.url is the current.
    this._urls = [options.url];
    this.timeoutMs = options.timeoutMs || DEFAULTS.timeoutMs;
    this.minBackoffMs = options.minBackoffMs || DEFAULTS.minBackoffMs;
    this.maxBackoffMs = options.maxBackoffMs || DEFAULTS.maxBackoffMs;
    this.status = 'connecting';
    this.token = options.token || null;
    this.hello = null;          // latest hello frame
    this.lastSeq = null;        // seq of the latest event seen (or of the latest hello)
    this.epoch = null;          // server epoch from the hello: replay cursors are valid within it
    this._ws = null;            // the current WebSocket (exposed for tests)
    this._ready = false;        // hello received on the current socket
    this._started = false;
    this._stopped = false;
    this._nextId = 1;
    this._pending = new Map();  // request id -> {resolve, timer, sent}
    this._queue = [];           // frames waiting for a connection
    this._attempt = 0;
    this._retryTimer = null;
    this._eventFns = [];
    this._helloFns = [];
    this._statusFns = [];
    this._phoneFns = [];
  }

  CtikitConnection.prototype.start = function () {
    if (this._started) return this;
    this._started = true;
    this._stopped = false;
    this._setStatus('connecting');
    this._connect();
    return this;
  };

  /** Close for good (no reconnect). Pending requests resolve "not connected". */
  CtikitConnection.prototype.stop = function () {
    this._stopped = true;
    this._started = false;
    if (this._retryTimer) clearTimeout(this._retryTimer);
    this._retryTimer = null;
    var ws = this._ws;
    this._ws = null;
    this._ready = false;
    if (ws) { try { ws.close(1000, 'stopped'); } catch (e) { /* ignore */ } }
    var ids = Array.from(this._pending.keys());
    for (var i = 0; i < ids.length; i++) this._settle(ids[i], {success: false, error: 'not connected'});
    this._queue = [];
  };

  /** Use another token from the next (re)connect on. */
  CtikitConnection.prototype.setToken = function (token) { this.token = token || null; };

  /**
   * Cluster nodes to fail over to (WebSocket URLs). The current URL stays first; when a
   * connection attempt fails, the next attempt goes to the next node, and the replay cursor
   * goes with it: every node of a cluster can replay the same events.
   */
  CtikitConnection.prototype.setUrls = function (urls) {
    var list = [this.url];
    for (var i = 0; i < (urls || []).length; i++) {
      if (typeof urls[i] === 'string' && list.indexOf(urls[i]) < 0) list.push(urls[i]);
    }
    this._urls = list;
  };

  /** The URL of the next connection attempt: token, and the replay cursor after the first. */
  CtikitConnection.prototype.connectUrl = function () {
    var url;
    try { url = new URL(this.url, typeof location !== 'undefined' ? location.href : undefined); }
    catch (e) { return this.url; }
    var token = typeof this.token === 'function' ? this.token() : this.token;
    if (token) url.searchParams.set('token', token);
    if (this.lastSeq !== null && this.epoch) {
      url.searchParams.set('since', String(this.lastSeq));
      url.searchParams.set('epoch', String(this.epoch));
    }
    return url.href;
  };

  CtikitConnection.prototype.onEvent = function (fn) { this._eventFns.push(fn); return this; };
  // The server answers a command once the telephony did it, within its commandTimeout.
  CtikitConnection.prototype._commandTimeoutMs = function () {
    var limits = this.hello && this.hello.limits;
    var server = limits && typeof limits.commandTimeout === 'number' ? limits.commandTimeout : 10;
    return Math.max(this.timeoutMs, server * 1000 + 5000);
  };

  CtikitConnection.prototype.onHello = function (fn) { this._helloFns.push(fn); return this; };
  CtikitConnection.prototype.onStatus = function (fn) { this._statusFns.push(fn); return this; };
  CtikitConnection.prototype.onPhone = function (fn) { this._phoneFns.push(fn); return this; };

  CtikitConnection.prototype.request = function (op, fields) {
    var self = this;
    var id = this._nextId++;
    var frame = {};
    if (fields && typeof fields === 'object') {
      // defineProperty, not assignment: a field named "__proto__" stays a field.
      Object.keys(fields).forEach(function (k) {
        Object.defineProperty(frame, k, {value: fields[k], enumerable: true, writable: true, configurable: true});
      });
    }
    frame.id = id;
    frame.op = op;
    return new Promise(function (resolve) {
      var entry = {resolve: resolve, sent: false, timer: null};
      entry.timer = setTimeout(function () {
        var err = entry.sent ? 'timed out' : 'not connected';
        // Drop it from the queue if it never went out.
        self._queue = self._queue.filter(function (f) { return f.id !== id; });
        self._settle(id, {success: false, error: err});
      }, op === 'sendCTIMessage' ? self._commandTimeoutMs() : self.timeoutMs);
      self._pending.set(id, entry);
      if (self._stopped) {
        self._settle(id, {success: false, error: 'not connected'});
        return;
      }
      if (self._ready && self._ws && self._ws.readyState === 1) {
        self._send(frame);
      } else {
        self._queue.push(frame);
      }
    });
  };

  // ---- internals ---------------------------------------------------------

  CtikitConnection.prototype._settle = function (id, resp) {
    var entry = this._pending.get(id);
    if (!entry) return false;
    this._pending.delete(id);
    clearTimeout(entry.timer);
    if (resp.type === undefined) resp.type = 'response';
    if (resp.id === undefined) resp.id = id;
    try { entry.resolve(resp); } catch (e) { /* ignore */ }
    return true;
  };

  CtikitConnection.prototype._send = function (frame) {
    var entry = this._pending.get(frame.id);
    try {
      this._ws.send(JSON.stringify(frame));
      if (entry) entry.sent = true;
    } catch (e) {
      console.warn('ctikit: send failed, will retry after reconnect', e);
      this._queue.push(frame);
    }
  };

  CtikitConnection.prototype._flush = function () {
    var queue = this._queue;
    this._queue = [];
    for (var i = 0; i < queue.length; i++) {
      if (this._pending.has(queue[i].id)) this._send(queue[i]);
    }
  };

  CtikitConnection.prototype._setStatus = function (status) {
    if (this.status === status && this._statusAnnounced) return;
    this.status = status;
    this._statusAnnounced = true;
    this._emit(this._statusFns, status);
  };

  CtikitConnection.prototype._emit = function (fns, arg) {
    for (var i = 0; i < fns.length; i++) {
      try { fns[i](arg); } catch (e) { console.error('ctikit: listener failed', e); }
    }
  };

  CtikitConnection.prototype._connect = function () {
    var self = this;
    if (this._stopped) return;
    var ws;
    try {
      ws = new WebSocket(this.connectUrl());
    } catch (e) {
      console.warn('ctikit: cannot open WebSocket', e);
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    this._ready = false;
    ws.onmessage = function (ev) { if (self._ws === ws) self._onMessage(ev.data); };
    ws.onclose = function () { if (self._ws === ws) self._onClose(); };
    ws.onerror = function () { /* onclose follows */ };
  };

  CtikitConnection.prototype._onClose = function () {
    if (!this._ready && this._urls.length > 1) {
      // This node did not take us: try the next one (a live socket that drops retries
      // its own node first, in case it was only the network).
      this.url = this._urls[(this._urls.indexOf(this.url) + 1) % this._urls.length];
    }
    this._ws = null;
    this._ready = false;
    // Requests already sent on the dead socket cannot be answered any more; re-sending them
    // could repeat a command (a /DIAL twice), so they resolve as failed now.
    var ids = Array.from(this._pending.keys());
    for (var i = 0; i < ids.length; i++) {
      var entry = this._pending.get(ids[i]);
      if (entry && entry.sent) this._settle(ids[i], {success: false, error: 'not connected'});
    }
    if (this._stopped) return;
    this._setStatus('reconnecting');
    this._scheduleReconnect();
  };

  CtikitConnection.prototype._scheduleReconnect = function () {
    var self = this;
    if (this._retryTimer || this._stopped) return;
    var base = Math.min(this.maxBackoffMs, this.minBackoffMs * Math.pow(2, this._attempt));
    this._attempt++;
    var delay = Math.round(base * (0.75 + Math.random() * 0.5)); // ±25 % jitter
    delay = Math.max(50, Math.min(this.maxBackoffMs, delay));
    this._retryTimer = setTimeout(function () {
      self._retryTimer = null;
      self._connect();
    }, delay);
  };

  CtikitConnection.prototype._onMessage = function (raw) {
    var frame;
    try {
      frame = JSON.parse(raw);
    } catch (e) {
      console.warn('ctikit: ignoring malformed frame (not JSON)', raw);
      return;
    }
    if (!frame || typeof frame !== 'object' || Array.isArray(frame) || typeof frame.type !== 'string') {
      console.warn('ctikit: ignoring malformed frame', frame);
      return;
    }
    switch (frame.type) {
      case 'hello':
        this.hello = frame;
        if (typeof frame.seq === 'number') this.lastSeq = frame.seq;
        if (typeof frame.epoch === 'string' && frame.epoch) this.epoch = frame.epoch;
        this._ready = true;
        this._attempt = 0;
        this._setStatus('connected');
        this._emit(this._helloFns, frame);
        this._flush();
        break;
      case 'response':
        if (!this._pending.has(frame.id)) {
          if (frame.id === null || frame.id === undefined) {
            console.warn('ctikit: server rejected a frame', frame.error);
          }
          return;
        }
        this._settle(frame.id, frame);
        break;
      case 'event':
        if (typeof frame.event !== 'string') {
          console.warn('ctikit: ignoring malformed event frame', frame);
          return;
        }
        if (typeof frame.seq === 'number') this.lastSeq = frame.seq;
        this._emit(this._eventFns, frame);
        break;
      case 'phone':
        if (typeof frame.cmd !== 'string') {
          console.warn('ctikit: ignoring malformed phone frame', frame);
          return;
        }
        this._emit(this._phoneFns, frame);
        break;
      default:
        console.warn('ctikit: ignoring frame of unknown type', frame.type);
    }
  };

  global.CtikitConnection = CtikitConnection;
})(typeof window !== 'undefined' ? window : this);
