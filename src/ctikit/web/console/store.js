/*
 * ctikit agent console: the call state store.
 *
 * State comes from the server only: the hello frame (and getState) give a snapshot, events
 * update it, and every change is announced to the subscribers (the views re-render from the
 * whole state). Calls are kept in arrays in arrival order and found by comparing IDs, so a
 * call ID is never a property name.
 */
(function (global) {
  'use strict';

  var MAX_RECENT = 50;

  function isCall(c) { return !!c && typeof c === 'object' && typeof c.id === 'string'; }

  function Store(conn) {
    this.conn = conn;
    this.calls = [];        // active calls, arrival order
    this.recent = [];       // ended calls, newest last
    this.lineUp = null;     // null/true = up, false = down
    this.lineReason = null;
    this.seq = null;
    this.connector = null;  // {name, canPlaceCalls}
    this.clockOffset = 0;   // server time - local time (seconds), from event timestamps
    this._fns = [];
    this._refetching = false;
  }

  /** fn(store, frame) after every change; frame is the event, or null for a snapshot. */
  Store.prototype.subscribe = function (fn) { this._fns.push(fn); };

  Store.prototype._changed = function (frame) {
    for (var i = 0; i < this._fns.length; i++) {
      try { this._fns[i](this, frame || null); } catch (e) { console.error('ctikit console: render failed', e); }
    }
  };

  /** Keep in step with the connection: each hello and each event. */
  Store.prototype.follow = function (conn) {
    var self = this;
    conn.onHello(function (frame) { self.hello(frame); });
    conn.onEvent(function (frame) { self.applyEvent(frame); });
  };

  /** Server time now (epoch seconds). */
  Store.prototype.now = function () { return Date.now() / 1000 + this.clockOffset; };

  Store.prototype.find = function (id) {
    for (var i = 0; i < this.calls.length; i++) if (this.calls[i].id === id) return this.calls[i];
    return null;
  };

  Store.prototype.findRecent = function (id) {
    for (var i = this.recent.length - 1; i >= 0; i--) if (this.recent[i].id === id) return this.recent[i];
    return null;
  };

  Store.prototype.setConnector = function (connector) {
    this.connector = connector;
    this._changed(null);
  };

  Store.prototype.hello = function (frame) {
    if (frame.resumed !== 'replay') { this.snapshot(frame); return; }
    // The server replays what we missed as events; our state is kept.
    if (typeof frame.seq === 'number') this.seq = frame.seq;
    if (frame.connector) this.setConnector(frame.connector);
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

  /** Ask the server for the whole state again (after a gap in the events). */
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
        if (call && (this.find(call.id) || !call.endedAt)) this._upsert(call);
        break;
      case 'callEnd':
        this._end(data.id || (call && call.id), call, frame, data);
        break;
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

  /** A call ended: it leaves the active list and joins the recent ones (for wrap-up). */
  Store.prototype._end = function (id, call, frame, data) {
    var ended = call || this.find(id);
    this.calls = this.calls.filter(function (c) { return c.id !== id; });
    if (!ended) return;
    ended = Object.assign({}, ended);
    if (!ended.endedAt) ended.endedAt = typeof frame.at === 'number' ? frame.at : this.now();
    if (data.duration !== undefined && ended.duration === null) ended.duration = Number(data.duration);
    if (data.disposition !== undefined && !ended.disposition) ended.disposition = data.disposition;
    this.recent = this.recent.filter(function (c) { return c.id !== id; });
    this.recent.push(ended);
    if (this.recent.length > MAX_RECENT) this.recent = this.recent.slice(-MAX_RECENT);
  };

  global.CtikitConsole.Store = Store;
})(window);
