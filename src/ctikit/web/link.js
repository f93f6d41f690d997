/*
 * ctikit's side of the postMessage link to the console page (docs/protocol.md section 2),
 * shared by integration.js and the Open CTI scripts (opencti.js, interaction.js): the server
 * puts this function expression into each. One copy per script in a page; each has its own
 * request IDs, and all of them use the nonce and console origin of the frame's URL.
 *
 *   var link = (this function)({what: 'integration.js', dispatch: function (event, data) {...}});
 *   link.inConsole                       // the frame was loaded by a ctikit console
 *   link.request(op, fields, finish)     // finish(response) once, response.success always set
 *
 * Only window.parent at ctiConsoleOrigin is ever written to or listened to. The frame's own
 * global `postMessage` is never used (some softphones define a function of that name).
 */
(function (opts) {
  'use strict';

  var HANDSHAKE_TIMEOUT_MS = 10000; // docs/protocol.md: no console after 10 s -> give up
  var HELLO_RETRY_MS = 500; // the console may not listen yet when we first say hello
  var REQUEST_TIMEOUT_MS = 30000; // safety net: the console always answers, even on errors
  var NOT_IN_CONSOLE = 'not in console';
  var NO_ANSWER = 'console did not answer';
  var dispatch = opts.dispatch;

  function isObject(o) { return o !== null && typeof o === 'object' && !Array.isArray(o); }

  function log(what, err) {
    try { window.console.error('ctikit ' + opts.what + ': ' + what, err); } catch (e) { /* none */ }
  }

  // ------------------------------------------------------------------ where are we?

  function urlParam(name) {
    try {
      // The last occurrence wins: the console appends its parameters to the component's URL.
      var all = new URLSearchParams(window.location.search).getAll(name);
      return all.length ? all[all.length - 1] : null;
    } catch (e) {
      return null;
    }
  }

  function originParam() {
    var text = urlParam('ctiConsoleOrigin');
    if (!text) return null;
    try {
      var url = new URL(text);
      // Only an exact http(s) origin ("scheme://host[:port]"), never a page or a wildcard.
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === text) return text;
    } catch (e) { /* not a URL */ }
    return null;
  }

  var inFrame = (function () {
    try { return window.parent !== window; } catch (e) { return true; }
  })();
  var consoleOrigin = originParam();
  var nonce = urlParam('nonce');
  if (!nonce || !/^[A-Za-z0-9_-]{8,128}$/.test(nonce)) nonce = null;
  var inConsole = inFrame && consoleOrigin !== null && nonce !== null;

  // ------------------------------------------------------------------ the console link

  var link = {
    state: 'idle', // idle -> waiting -> ready; waiting -> failed (no console) -> waiting ...
    queue: [], // requests waiting for `ready`: {message, finish}
    pending: new Map(), // request ID -> finish(response), for requests sent to the console
    nextId: 1,
    // Several copies of this script in one page each listen to the same messages: a random
    // prefix keeps their request IDs apart.
    idPrefix: Math.random().toString(36).slice(2, 8) + '-',
    helloTimer: null,
    deadline: null,
    seen: [], // keys of recent events, to drop repeats
  };

  function post(message) {
    message.ctikit = 1;
    try {
      window.parent.postMessage(message, consoleOrigin);
    } catch (err) {
      log('could not post to the console', err);
    }
  }

  function startHandshake() {
    if (link.state === 'waiting' || link.state === 'ready') return;
    link.state = 'waiting';
    var sayHello = function () {
      post({ kind: 'hello', nonce: nonce });
      link.helloTimer = setTimeout(sayHello, HELLO_RETRY_MS);
    };
    sayHello();
    link.deadline = setTimeout(function () {
      clearTimeout(link.helloTimer);
      link.state = 'failed';
      var queued = link.queue;
      link.queue = [];
      queued.forEach(function (item) { item.finish({ success: false, error: NO_ANSWER }); });
    }, HANDSHAKE_TIMEOUT_MS);
  }

  function onReady() {
    if (link.state === 'ready') return; // the console answers every (repeated) hello
    clearTimeout(link.helloTimer);
    clearTimeout(link.deadline);
    link.state = 'ready';
    var queued = link.queue;
    link.queue = [];
    queued.forEach(send);
  }

  function send(item) {
    var id = link.idPrefix + link.nextId++;
    item.message.kind = 'request';
    item.message.id = id;
    // The nonce goes with every request: another document loaded into this iframe later
    // (same window, same origin) cannot act for us without knowing it.
    item.message.nonce = nonce;
    var timer = setTimeout(function () {
      link.pending.delete(id);
      item.finish({ success: false, error: NO_ANSWER });
    }, REQUEST_TIMEOUT_MS);
    link.pending.set(id, function (response) {
      clearTimeout(timer);
      link.pending.delete(id);
      item.finish(response);
    });
    post(item.message);
  }

  // Send `op` with `fields` to the server through the console; `finish` gets the response
  // (an object with `success`, never missing) exactly once.
  function request(op, fields, finish) {
    var done = false;
    var item = {
      message: Object.assign({ op: op }, fields),
      finish: function (response) {
        if (done) return;
        done = true;
        finish(isObject(response) ? response : { success: false, error: 'bad answer from the console' });
      },
    };
    if (!inConsole) {
      setTimeout(function () { item.finish({ success: false, error: NOT_IN_CONSOLE }); }, 0);
    } else if (link.state === 'ready') {
      send(item);
    } else {
      link.queue.push(item);
      startHandshake();
    }
  }

  function onMessage(ev) {
    // Only our console (the parent window, at the origin it told us) may talk to us.
    if (ev.source !== window.parent || ev.origin !== consoleOrigin) return;
    var msg = ev.data;
    if (!isObject(msg) || msg.ctikit !== 1 || typeof msg.kind !== 'string') return;
    if (msg.kind === 'ready') {
      if (msg.nonce === nonce && link.state !== 'idle') onReady();
    } else if (msg.kind === 'response') {
      var finish = link.pending.get(msg.id);
      if (finish) finish(msg);
    } else if (msg.kind === 'event') {
      if (link.state === 'ready' && typeof msg.event === 'string' && isObject(msg.data)) {
        // The console may pass on an event twice (replayed after its connection came back):
        // seq and server time together name an event, even across server restarts.
        if (typeof msg.seq === 'number') {
          var key = msg.seq + '@' + msg.at;
          if (link.seen.indexOf(key) >= 0) return;
          link.seen.push(key);
          if (link.seen.length > 200) link.seen.shift();
        }
        dispatch(msg.event, msg.data);
      }
    }
  }

  window.addEventListener('message', function (ev) {
    try { onMessage(ev); } catch (err) { log('ignored a message that broke it', err); }
  });
  if (inConsole) startHandshake();

  return { inConsole: inConsole, consoleOrigin: consoleOrigin, request: request };
})
