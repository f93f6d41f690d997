/*
 * ctikit console bridge: the console side of the postMessage protocol (docs/protocol.md §2).
 *
 * Components run in iframes, usually from other origins. Each gets its own random nonce in its
 * URL; a component proves who it is by saying `hello` with that nonce from that iframe's window
 * at that iframe's origin. Only then does the bridge forward its requests to the server (over
 * the console's one connection) and push server events to it. Everything else is ignored.
 *
 *   var bridge = new CtikitBridge({connection: conn, consoleOrigin: location.origin});
 *   bridge.addComponent(iframe, 'https://vendor.example/softphone.html');
 *   bridge.addComponent(tabFrame, 'https://crm.example/case/42', {tabId: 'scc-st-3'}); // a page in a tab
 *   bridge.removeComponent(iframe);
 *
 * Some operations are the console's own business and never reach the server (the tabs:
 * tab-api.js): `handleLocally(ops, fn)` names them and answers them with
 * fn(op, fields, {tabId, origin}) -> result or Promise of one; `post(event, data, filter)`
 * pushes such a console event to the components `filter({tabId})` picks;
 * `onComponentReady(fn)` hears each handshake.
 *
 * `connection` is a CtikitConnection (connection.js): request(op, fields) -> Promise of the
 * server's response frame (never rejects), onEvent(fn) for the server's event frames.
 */
(function () {
  'use strict';

  // The operations a component may ask for: the CTI API and custom events, each with the
  // fields it may carry. (saveCallLog, simulateCall and getState are for the console itself.)
  // A Map: the op name comes from the component ("__proto__" is just unknown).
  var COMPONENT_OPS = new Map([
    ['getCallObjectIds', []],
    ['getCallAttachedData', ['callId', 'getCallType']],
    ['setCallObjectIds', ['ids']],
    ['setCallAttachedData', ['callId', 'data', 'callType']],
    ['fireOnCallBegin', ['callId', 'callType', 'label']],
    ['fireOnCallEnd', ['callId', 'duration', 'disposition']],
    ['fireOnCallLogSaved', ['logId']],
    ['sendCTIMessage', ['message']],
    ['fireEvent', ['eventType', 'message']],
    ['ping', []],
  ]);
  var PARAM_NAMES = ['ctiConsoleOrigin', 'nonce'];
  var MAX_PENDING_PER_COMPONENT = 200; // a looping component cannot pile up unbounded work

  function isObject(o) { return o !== null && typeof o === 'object' && !Array.isArray(o); }

  // Copy source's own fields onto target as own fields, whatever their names: plain
  // assignment of a field named "__proto__" would set target's prototype instead.
  function copyFields(target, source, skip) {
    Object.keys(source).forEach(function (k) {
      if (skip && skip.indexOf(k) >= 0) return;
      Object.defineProperty(target, k, { value: source[k], enumerable: true, writable: true, configurable: true });
    });
    return target;
  }

  function warn(what, detail) {
    try { window.console.warn('ctikit bridge: ' + what, detail === undefined ? '' : detail); } catch (e) { /* none */ }
  }

  function randomNonce() {
    var bytes = new Uint8Array(16); // 128 bits
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? '0' : '') + b.toString(16); }).join('');
  }

  // The component's URL plus our two parameters, keeping its own query (byte for byte) and
  // hash. Parameters of the same names already in the URL are dropped so they cannot shadow ours.
  function componentSrc(url, consoleOrigin, nonce) {
    var kept = url.search.replace(/^\?/, '').split('&').filter(function (part) {
      if (part === '') return false;
      var name = part.split('=')[0];
      try { name = decodeURIComponent(name.replace(/\+/g, ' ')); } catch (e) { /* keep raw */ }
      return PARAM_NAMES.indexOf(name) < 0;
    });
    kept.push('ctiConsoleOrigin=' + encodeURIComponent(consoleOrigin), 'nonce=' + nonce);
    var out = new URL(url.href);
    out.search = '?' + kept.join('&');
    return out.href;
  }

  function validId(id) {
    return (typeof id === 'number' && Number.isInteger(id)) ||
      (typeof id === 'string' && id.length > 0 && id.length <= 64);
  }

  function CtikitBridge(options) {
    options = options || {};
    if (!options.connection) throw new TypeError('CtikitBridge needs {connection}');
    this.connection = options.connection;
    this.consoleOrigin = options.consoleOrigin || window.location.origin;
    this.readyFns = typeof options.onReady === 'function' ? [options.onReady] : [];
    this.components = []; // {iframe, origin, nonce, ready, window, pending, tabId}
    this.localOps = new Map(); // op -> {fields, fn}: answered in the console
    var self = this;
    this._listener = function (ev) {
      try { self._onMessage(ev); } catch (err) { warn('ignored a message that broke it', err); }
    };
    window.addEventListener('message', this._listener);
    this.connection.onEvent(function (frame) {
      try { self._broadcast(frame); } catch (err) { warn('could not forward an event', err); }
    });
  }

  // Load `componentUrl` in `iframe` and accept it as a component. Returns false (and loads
  // nothing) for a URL that is not http(s). info.tabId: the tab the frame is in (the side
  // slots' components are in none).
  CtikitBridge.prototype.addComponent = function (iframe, componentUrl, info) {
    var url;
    try {
      url = new URL(componentUrl, window.location.href);
    } catch (e) {
      warn('bad component URL', componentUrl);
      return false;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      warn('component URLs must be http(s)', componentUrl);
      return false;
    }
    this.removeComponent(iframe);
    var nonce = randomNonce();
    var tabId = info && typeof info.tabId === 'string' ? info.tabId : null;
    // The Open CTI softphone panel (opencti-panel.js): the one frame sforce.opencti and
    // sforce.interaction answer.
    var softphone = !!(info && info.softphone === true);
    this.components.push({ iframe: iframe, origin: url.origin, nonce: nonce, ready: false, window: null, pending: 0,
      tabId: tabId, softphone: softphone });
    iframe.src = componentSrc(url, this.consoleOrigin, nonce);
    return true;
  };

  CtikitBridge.prototype.removeComponent = function (iframe) {
    this.components = this.components.filter(function (c) { return c.iframe !== iframe; });
  };

  // Answer the operations in `ops` (a Map: op -> the fields it may carry) in the console,
  // with fn(op, fields, {tabId, origin, softphone}). Several parts may each name their own.
  CtikitBridge.prototype.handleLocally = function (ops, fn) {
    var self = this;
    ops.forEach(function (fields, op) { self.localOps.set(op, { fields: fields, fn: fn }); });
  };

  // fn(iframe, {tabId}) each time a component (re)loaded in an iframe completes the handshake.
  CtikitBridge.prototype.onComponentReady = function (fn) { this.readyFns.push(fn); };

  // Push a console event to each ready component that filter({tabId, softphone}) picks (all: no filter).
  CtikitBridge.prototype.post = function (event, data, filter) {
    var msg = { kind: 'event', event: event, data: data };
    var self = this;
    this.components.forEach(function (c) {
      if (!c.ready) return;
      var picked = true;
      if (filter) {
        try { picked = filter({ tabId: c.tabId, softphone: c.softphone }); } catch (err) { warn('an event filter threw', err); picked = false; }
      }
      if (picked) self._post(c, msg);
    });
  };

  // Components that completed the handshake (for the console's own display).
  CtikitBridge.prototype.readyComponents = function () {
    return this.components.filter(function (c) { return c.ready; }).map(function (c) { return c.iframe; });
  };

  CtikitBridge.prototype._onMessage = function (ev) {
    var msg = ev.data;
    if (!isObject(msg) || msg.ctikit !== 1 || typeof msg.kind !== 'string') return;
    // The sender must be the window of one of our iframes, at the origin we loaded there.
    var comp = null;
    for (var i = 0; i < this.components.length; i++) {
      var c = this.components[i];
      if (c.iframe.contentWindow === ev.source && ev.source) { comp = c; break; }
    }
    if (!comp || ev.origin !== comp.origin) return;

    if (msg.kind === 'hello') {
      if (msg.nonce !== comp.nonce) return;
      // The component repeats hello until it hears ready, and says it again after a reload.
      var first = !comp.ready;
      comp.ready = true;
      comp.window = ev.source;
      this._post(comp, { kind: 'ready', nonce: comp.nonce });
      if (first) {
        this.readyFns.forEach(function (fn) {
          try { fn(comp.iframe, { tabId: comp.tabId }); } catch (err) { warn('onReady threw', err); }
        });
      }
    } else if (msg.kind === 'request') {
      // The nonce on every request: a later document in the same iframe (a navigation) has to
      // know it too. (Events still go to the iframe's window at the component's origin.)
      if (comp.ready && ev.source === comp.window && msg.nonce === comp.nonce) this._request(comp, msg);
    }
  };

  CtikitBridge.prototype._request = function (comp, msg) {
    if (!validId(msg.id)) return; // no ID to answer to: nothing we can do
    var self = this;
    var reply = function (response) {
      comp.pending--;
      var out = copyFields({ kind: 'response' }, response, ['type', 'id', 'kind']);
      out.id = msg.id;
      if (typeof out.success !== 'boolean') out.success = false;
      self._post(comp, out);
    };
    comp.pending++;
    var local = typeof msg.op === 'string' && this.localOps.has(msg.op);
    if (typeof msg.op !== 'string' || (!COMPONENT_OPS.has(msg.op) && !local)) {
      return reply({ success: false, error: 'unknown operation ' + JSON.stringify(String(msg.op)).slice(0, 80), code: 'bad_request' });
    }
    if (comp.pending > MAX_PENDING_PER_COMPONENT) {
      return reply({ success: false, error: 'too many requests in flight', code: 'limit_exceeded' });
    }
    var fields = {};
    (local ? this.localOps.get(msg.op).fields : COMPONENT_OPS.get(msg.op)).forEach(function (k) {
      if (Object.prototype.hasOwnProperty.call(msg, k)) fields[k] = msg[k];
    });
    var answered;
    try {
      answered = Promise.resolve(local ? this.localOps.get(msg.op).fn(msg.op, fields,
        { tabId: comp.tabId, origin: comp.origin, softphone: comp.softphone })
        : this.connection.request(msg.op, fields));
    } catch (err) {
      answered = Promise.resolve({ success: false, error: 'console error: ' + (err && err.message) });
    }
    answered.then(function (response) {
      reply(isObject(response) ? response : { success: false, error: 'bad answer from the server' });
    }, function (err) {
      reply({ success: false, error: 'console error: ' + (err && err.message) });
    });
  };

  // Every server event goes to every ready component.
  CtikitBridge.prototype._broadcast = function (frame) {
    if (!isObject(frame) || typeof frame.event !== 'string') return;
    var msg = { kind: 'event', seq: frame.seq, event: frame.event, data: frame.data, at: frame.at };
    var self = this;
    this.components.forEach(function (c) { if (c.ready) self._post(c, msg); });
  };

  CtikitBridge.prototype._post = function (comp, message) {
    var out = copyFields({ ctikit: 1 }, message);
    try {
      // targetOrigin: if the iframe has navigated elsewhere, the browser drops the message.
      comp.window.postMessage(out, comp.origin);
    } catch (err) {
      warn('could not post to a component', err);
    }
  };

  window.CtikitBridge = CtikitBridge;
})();
