/*
 * ctikit integration.js: the sforce.console API of the Salesforce Console Integration Toolkit,
 * for components that run in an iframe of a ctikit agent console.
 *
 * The server serves this file as /support/console/NN.0/integration.js and fills in the API
 * table of version NN (ctikit.core.versions.api_table) as the argument of the function below,
 * so every version gets exactly the members that version had: the implemented ones are written
 * here; every other member answers "not supported" with the result fields it documents.
 *
 * How it works (docs/protocol.md section 2): the console puts `ctiConsoleOrigin` and `nonce` in
 * this frame's URL. We say `hello` with the nonce to window.parent, the console answers
 * `ready`, and from then on requests go up as postMessage and come back as responses; server
 * events are pushed down to every ready component. Messages are only ever sent to, and only
 * ever accepted from, window.parent at ctiConsoleOrigin.
 *
 * Plain ES2017, no dependencies; the only global touched is `sforce`. Identifiers that come
 * from components or the console (event types, call IDs, request IDs) are only ever Map keys,
 * never keys of plain objects: '__proto__' or 'constructor' is data like any other.
 */
(function (API) {
  'use strict';

  var NOT_SUPPORTED = 'not supported by ctikit';
  var CALL_TYPES = ['INBOUND', 'OUTBOUND', 'INTERNAL'];

  var sforce = window.sforce = window.sforce || {};
  var sconsole = sforce.console = sforce.console || {};

  // ------------------------------------------------------------------ small helpers

  function isFunction(f) { return typeof f === 'function'; }
  function isObject(o) { return o !== null && typeof o === 'object' && !Array.isArray(o); }

  function logError(what, err) {
    try { window.console.error('ctikit integration.js: ' + what, err); } catch (e) { /* none */ }
  }

  // Component code must never be able to break us (or other handlers) by throwing.
  function safeCall(fn, arg, what) {
    try { fn(arg); } catch (err) { logError('a ' + what + ' threw', err); }
  }

  // Results are always delivered asynchronously, like the original's, even when we know the
  // answer at once (bad arguments, not in a console).
  function later(callback, result, what) {
    if (isFunction(callback)) setTimeout(function () { safeCall(callback, result, what); }, 0);
  }

  function fail(callback, error, extra) {
    var result = Object.assign({ success: false, error: error }, extra || {});
    later(callback, result, 'callback');
  }

  // The original hands values across frames as strings and real components depend on it:
  // `JSON.parse(result.ids)` and `result.ids == 'null'` as well as `result.ids[0]` and
  // `.length`. So: a real array whose string form is its JSON text, or `null` when empty.
  function compatIds(list) {
    var ids = Array.isArray(list) ? list.map(String) : [];
    Object.defineProperty(ids, 'toString', {
      value: function () { return this.length ? JSON.stringify(Array.prototype.slice.call(this)) : 'null'; },
      enumerable: false, writable: true, configurable: true,
    });
    return ids;
  }

  // Call and call-log IDs: a non-empty string; numbers are accepted and stringified, as the
  // original stringifies whatever it is given.
  function idArg(value, name) {
    if (typeof value === 'number' && isFinite(value)) value = String(value);
    if (typeof value !== 'string' || value.trim() === '') {
      return { error: name + ' must be a non-empty string' };
    }
    return { value: value };
  }

  function callTypeArg(value, name) {
    var upper = typeof value === 'string' ? value.trim().toUpperCase() : null;
    if (CALL_TYPES.indexOf(upper) < 0) {
      return { error: name + ' must be one of inbound, outbound, internal (got ' + describe(value) + ')' };
    }
    return { value: upper };
  }

  // An optional string argument (labels, dispositions).
  function optTextArg(value, name) {
    if (value === undefined || value === null) return { value: null };
    if (typeof value !== 'string') return { error: name + ' must be a string' };
    return { value: value };
  }

  // A message text (sendCTIMessage, fireEvent): the original turns every argument into a
  // string to send it across frames, and pages rely on it (a number as the message), so a
  // number or a boolean is sent as its string form. An object would arrive as
  // "[object Object]": refused, with a hint. `optional`: null and undefined mean "none".
  function messageArg(value, name, optional) {
    var type = typeof value;
    if (type === 'string') return { value: value };
    if (type === 'number' || type === 'boolean' || type === 'bigint') return { value: String(value) };
    if (optional && (value === undefined || value === null)) return { value: null };
    var hint = value !== null && type === 'object' ? ' (use JSON.stringify for structured data)' : '';
    return { error: name + ' must be a string, got ' + describe(value) + hint };
  }

  function describe(value) {
    if (value === undefined) return 'undefined';
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value);
    if (typeof value === 'function') return 'a function';
    if (Array.isArray(value)) return 'an array';
    return typeof value === 'object' ? (value === null ? 'null' : 'an object') : String(value);
  }

  // A callback argument: optional, but if given it must be a function. With no usable
  // callback there is nobody to tell about an error, so we log it.
  function checkCallback(callback, method) {
    if (callback === undefined || callback === null || isFunction(callback)) return true;
    logError(method + ': the callback must be a function, got ' + describe(callback));
    return false;
  }

  // ------------------------------------------------------------------ the console link

  // web/link.js, put here by the server: the handshake, requests and events.
  var link = (__CTIKIT_LINK__)({ what: 'integration.js', dispatch: function (event, data) { dispatch(event, data); } });
  var inConsole = link.inConsole;
  var request = link.request;

  // ------------------------------------------------------------------ event handlers

  // CTI event name -> list of {fn, callId?}; the same function may be registered several times
  // and then runs that many times, in registration order.
  var handlers = new Map([['callBegin', []], ['callEnd', []], ['callLogSaved', []], ['ctiMessage', []]]);
  var listeners = new Map(); // event type (custom, or a standard one) -> [fn, ...]
  // A component registering in a loop would slow every event of the console: cap it
  // (docs/security.md). Registrations have no callback in the API, so refusals are logged.
  var MAX_HANDLERS = 100;

  function addHandler(name, fn, method, callId) {
    if (!isFunction(fn)) {
      logError(method + ': the event handler must be a function, got ' + describe(fn));
      return;
    }
    if (handlers.get(name).length >= MAX_HANDLERS) {
      logError(method + ': more than ' + MAX_HANDLERS + ' handlers registered; this one is ignored');
      return;
    }
    handlers.get(name).push({ fn: fn, callId: callId });
  }

  // An ID in an event: a string (or a number, stringified); anything else marks a bad event.
  function eventId(value) {
    if (typeof value === 'number' && isFinite(value)) return String(value);
    return typeof value === 'string' ? value : null;
  }

  function dispatch(event, data) {
    var id = eventId(data.id);
    switch (event) {
      case 'callBegin':
        if (id !== null) run(handlers.get('callBegin'), function () { return { id: id }; }, 'onCallBegin');
        break;
      case 'callEnd': {
        if (id === null) break;
        var all = handlers.get('callEnd');
        // A handler bound to this call fires once and goes; unbound ones stay.
        handlers.set('callEnd', all.filter(function (h) { return h.callId !== id; }));
        var due = all.filter(function (h) { return h.callId === undefined || h.callId === id; });
        var duration = data.duration === undefined || data.duration === null ? '0' : String(data.duration);
        var disposition = typeof data.disposition === 'string' ? data.disposition : '';
        run(due, function () {
          return { id: id, duration: duration, disposition: disposition };
        }, 'onCallEnd');
        break;
      }
      case 'callLogSaved':
        if (id !== null) run(handlers.get('callLogSaved'), function () { return { id: id }; }, 'onCallLogSaved');
        break;
      case 'ctiMessage':
        if (typeof data.message === 'string') {
          run(handlers.get('ctiMessage'), function () { return { message: data.message }; }, 'onSendCTIMessage');
        }
        break;
      case 'customEvent': {
        var registered = typeof data.type === 'string' ? listeners.get(data.type) : undefined;
        if (!registered) break;
        var message = typeof data.message === 'string' ? data.message : null;
        run(registered.map(function (fn) { return { fn: fn }; }), function () {
          return { message: message };
        }, 'event listener of ' + data.type);
        break;
      }
      default: {
        // The console's own events (tabs: integration-tabs.js); the rest (callUpdate,
        // lineStatus...) are for the console only.
        var consoleHandler = consoleEvents.get(event);
        if (consoleHandler) consoleHandler(data);
        break;
      }
    }
  }

  var consoleEvents = new Map(); // event -> fn(data), registered by the parts below

  // Runs handlers in registration order. `list` is a snapshot, so handlers registered by a
  // handler wait for the next event. Each gets its own copy of the result, so one handler
  // changing it cannot confuse the next.
  function run(list, makeResult, what) {
    list.slice().forEach(function (h) { safeCall(h.fn, makeResult(), what); });
  }

  // ------------------------------------------------------------------ the CTI methods

  // The methods of this version, each a function(args...) in Salesforce's argument order.
  var methods = {
    getCallObjectIds: function (callback) {
      if (!checkCallback(callback, 'getCallObjectIds')) return;
      request('getCallObjectIds', {}, function (r) {
        // On failure, too, `ids` reads as "no call" for code that never checks `success`.
        var result = r.success ? { success: true, ids: compatIds(r.ids) }
          : { success: false, error: String(r.error), ids: compatIds([]) };
        later(callback, result, 'callback');
      });
    },

    // (callObjectId, callback, {getCallType: true}) is the order real components use; the
    // documentation's syntax line shows (callObjectId, getCallType, callback): both work.
    getCallAttachedData: function (callObjectId, callback, options) {
      if (!isFunction(callback) && isFunction(options)) {
        var swap = callback;
        callback = options;
        options = typeof swap === 'boolean' ? { getCallType: swap } : swap;
      }
      if (!checkCallback(callback, 'getCallAttachedData')) return;
      var noData = { data: null };
      var id = idArg(callObjectId, 'callObjectId');
      if (id.error) return fail(callback, id.error, noData);
      if (options !== undefined && options !== null && !isObject(options)) {
        return fail(callback, 'options must be an object such as {getCallType: true}', noData);
      }
      // The call type exists from 29.0 on; older versions ignore the option, as they did.
      var wantType = Boolean(API.callTypeOption && options && options.getCallType === true);
      var fields = { callId: id.value };
      if (wantType) fields.getCallType = true;
      request('getCallAttachedData', fields, function (r) {
        var data = r.data === undefined || r.data === null ? null
          : typeof r.data === 'string' ? r.data : JSON.stringify(r.data);
        var result = r.success ? { success: true, data: data } : { success: false, error: String(r.error), data: null };
        if (r.success && wantType) result.type = r.callType === undefined ? null : r.callType;
        later(callback, result, 'callback');
      });
    },

    onCallBegin: function (handler) { addHandler('callBegin', handler, 'onCallBegin'); },

    onCallEnd: function (handler, callObjectId) {
      if (callObjectId === undefined || callObjectId === null) {
        return addHandler('callEnd', handler, 'onCallEnd');
      }
      var id = idArg(callObjectId, 'callObjectId');
      if (id.error) return logError('onCallEnd: ' + id.error);
      addHandler('callEnd', handler, 'onCallEnd', id.value);
    },

    sendCTIMessage: function (msg, callback) {
      if (!checkCallback(callback, 'sendCTIMessage')) return;
      var text = messageArg(msg, 'msg', false);
      if (text.error) return fail(callback, text.error);
      if (text.value === '') return fail(callback, 'msg must not be empty');
      request('sendCTIMessage', { message: text.value }, answer(callback));
    },

    fireOnCallBegin: function (callObjectId, callType, callLabel, callback) {
      if (!checkCallback(callback, 'fireOnCallBegin')) return;
      var id = idArg(callObjectId, 'callObjectId');
      if (id.error) return fail(callback, id.error);
      var type = callTypeArg(callType, 'callType');
      if (type.error) return fail(callback, type.error);
      var label = optTextArg(callLabel, 'callLabel');
      if (label.error) return fail(callback, label.error);
      request('fireOnCallBegin', { callId: id.value, callType: type.value, label: label.value }, answer(callback));
    },

    fireOnCallEnd: function (callObjectId, callDuration, callDisposition, callback) {
      if (!checkCallback(callback, 'fireOnCallEnd')) return;
      var id = idArg(callObjectId, 'callObjectId');
      if (id.error) return fail(callback, id.error);
      // A numeric string ("42") is taken too: values often come from form fields.
      var duration = typeof callDuration === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(callDuration)
        ? Number(callDuration) : callDuration;
      if (typeof duration !== 'number' || !isFinite(duration) || duration < 0) {
        return fail(callback, 'callDuration must be a number of seconds, 0 or more (got ' + describe(callDuration) + ')');
      }
      var disposition = optTextArg(callDisposition, 'callDisposition');
      if (disposition.error) return fail(callback, disposition.error);
      request('fireOnCallEnd', { callId: id.value, duration: duration, disposition: disposition.value }, answer(callback));
    },

    onCallLogSaved: function (handler) { addHandler('callLogSaved', handler, 'onCallLogSaved'); },

    fireOnCallLogSaved: function (id, callback) {
      if (!checkCallback(callback, 'fireOnCallLogSaved')) return;
      var logId = idArg(id, 'id');
      if (logId.error) return fail(callback, logId.error);
      request('fireOnCallLogSaved', { logId: logId.value }, answer(callback));
    },

    onSendCTIMessage: function (handler) { addHandler('ctiMessage', handler, 'onSendCTIMessage'); },

    setCallAttachedData: function (callObjectId, callData, callType, callback) {
      if (!checkCallback(callback, 'setCallAttachedData')) return;
      var id = idArg(callObjectId, 'callObjectId');
      if (id.error) return fail(callback, id.error);
      if (typeof callData !== 'string') {
        return fail(callback, 'callData must be a JSON string (use JSON.stringify), got ' + describe(callData));
      }
      try {
        JSON.parse(callData);
      } catch (err) {
        return fail(callback, 'callData is not valid JSON: ' + err.message);
      }
      var type = callTypeArg(callType, 'callType');
      if (type.error) return fail(callback, type.error);
      request('setCallAttachedData', { callId: id.value, data: callData, callType: type.value }, answer(callback));
    },

    setCallObjectIds: function (callObjectIds, callback) {
      if (!checkCallback(callback, 'setCallObjectIds')) return;
      if (!Array.isArray(callObjectIds)) {
        return fail(callback, 'callObjectIds must be an array of call IDs, got ' + describe(callObjectIds));
      }
      var ids = [];
      for (var i = 0; i < callObjectIds.length; i++) {
        var id = idArg(callObjectIds[i], 'callObjectIds[' + i + ']');
        if (id.error) return fail(callback, id.error);
        if (ids.indexOf(id.value) >= 0) return fail(callback, 'callObjectIds has ' + describe(id.value) + ' twice');
        ids.push(id.value);
      }
      request('setCallObjectIds', { ids: ids }, answer(callback));
    },
  };

  // The usual completion: `{success: true}` or `{success: false, error}`.
  function answer(callback) {
    return function (r) {
      later(callback, r.success ? { success: true } : { success: false, error: String(r.error) }, 'callback');
    };
  }

  // Parameter lists of the methods that take a callback after other arguments: a callback
  // passed too early (arguments left out) still hears what went wrong.
  var SIGNATURES = {
    getCallAttachedData: ['callObjectId', 'callback', 'options'],
    sendCTIMessage: ['msg', 'callback'],
    fireOnCallBegin: ['callObjectId', 'callType', 'callLabel', 'callback'],
    fireOnCallEnd: ['callObjectId', 'callDuration', 'callDisposition', 'callback'],
    fireOnCallLogSaved: ['id', 'callback'],
    setCallAttachedData: ['callObjectId', 'callData', 'callType', 'callback'],
    setCallObjectIds: ['callObjectIds', 'callback'],
    fireEvent: ['eventType', 'message', 'callback'],
  };

  // Wrap every method so that nothing a component passes can make it throw.
  function guarded(path, fn, params) {
    var cbAt = params ? params.indexOf('callback') : -1;
    return function () {
      var last = lastFunctionIndex(arguments);
      try {
        if (cbAt > 0 && !isFunction(arguments[cbAt]) && last >= 0 && last < cbAt) {
          return fail(arguments[last], 'missing arguments: call ' + path + '(' + params.join(', ') + ')');
        }
        return fn.apply(null, arguments);
      } catch (err) {
        logError(path + ' failed', err);
        if (last >= 0) fail(arguments[last], path + ' failed: ' + (err && err.message));
      }
    };
  }

  function lastFunctionIndex(args) {
    for (var i = args.length - 1; i >= 0; i--) if (isFunction(args[i])) return i;
    return -1;
  }

  function lastFunction(args) {
    var i = lastFunctionIndex(args);
    return i >= 0 ? args[i] : null;
  }

  // ------------------------------------------------------------------ the rest of sforce.console

  var members = {
    // Synchronous, as in the original.
    isInConsole: function () { return inConsole; },

    // Asynchronous in the original (callback gets {success, inCustomConsoleComponent}); we
    // also return the answer for code that expects a value. Every ctikit component is an
    // application-level custom console component.
    isInCustomConsoleComponent: function (callback) {
      if (isFunction(callback)) later(callback, { success: true, inCustomConsoleComponent: inConsole }, 'callback');
      return inConsole;
    },

    // Standard console events (tabs, logout, presence) are accepted but never fire: ctikit
    // has no tabs. additionalParams.tabId narrows a tab event to one tab, as in the original.
    addEventListener: function (eventType, listener, additionalParams) {
      if (typeof eventType !== 'string' || eventType === '') {
        return logError('addEventListener: eventType must be a non-empty string, got ' + describe(eventType));
      }
      if (!isFunction(listener)) {
        return logError('addEventListener: the listener must be a function, got ' + describe(listener));
      }
      var key = listenerKey(eventType, additionalParams);
      var list = listeners.get(key);
      if (!list) listeners.set(key, list = []);
      if (list.length >= MAX_HANDLERS) {
        return logError('addEventListener: more than ' + MAX_HANDLERS + ' listeners for ' + eventType + '; ignored');
      }
      list.push(listener);
    },

    removeEventListener: function (eventType, listener, additionalParams) {
      if (typeof eventType !== 'string') return;
      var key = listenerKey(eventType, additionalParams);
      var list = listeners.get(key);
      if (!list) return;
      list = list.filter(function (fn) { return fn !== listener; });
      if (list.length) listeners.set(key, list); else listeners.delete(key);
    },

    fireEvent: function (eventType, message, callback) {
      if (!checkCallback(callback, 'fireEvent')) return;
      if (typeof eventType !== 'string' || eventType === '') {
        return fail(callback, 'eventType must be a non-empty string, got ' + describe(eventType));
      }
      if (standardEvents.indexOf(eventType) >= 0) {
        return fail(callback, eventType + ' is a standard console event: only the console fires it');
      }
      var text = messageArg(message, 'message', true);
      if (text.error) return fail(callback, text.error);
      request('fireEvent', { eventType: eventType, message: text.value }, answer(callback));
    },
  };

  // The standard events of this version (the values of sforce.console.ConsoleEvent).
  var standardEvents = [];
  (function collect(values) {
    Object.keys(values).forEach(function (k) {
      if (typeof values[k] === 'string') standardEvents.push(values[k]); else collect(values[k]);
    });
  })((API.enums && API.enums.ConsoleEvent) || {});

  function listenerKey(eventType, additionalParams) {
    var tabId = isObject(additionalParams) ? additionalParams.tabId : undefined;
    if (standardEvents.indexOf(eventType) >= 0 && /_TAB$/.test(eventType) &&
        typeof tabId === 'string' && tabId !== '') {
      return eventType + ':' + tabId;
    }
    return eventType;
  }

  // ------------------------------------------------------------------ assembling the namespace

  // What a member ctikit does not implement answers: {success: false, error} and every result
  // field its documentation lists, empty (the table says how: ctikit.core.versions.EMPTY_FIELDS).
  var EMPTY = {
    ids: function () { return compatIds([]); },
    list: function () { return []; },
    reason: function () { return NOT_SUPPORTED; },
  };

  function notSupported(fields) {
    var result = { success: false, error: NOT_SUPPORTED };
    Object.keys(fields).forEach(function (k) {
      result[k] = Object.prototype.hasOwnProperty.call(EMPTY, fields[k]) ? EMPTY[fields[k]]() : null;
    });
    return result;
  }

  var warned = new Map();
  function warnOnce(path) {
    if (warned.has(path)) return;
    warned.set(path, true);
    try { window.console.warn('ctikit integration.js: ' + path + ' is ' + NOT_SUPPORTED); } catch (e) { /* none */ }
  }

  // Defined from their version so that components calling them keep running; nothing throws.
  function unsupportedMember(path, kind, fields) {
    if (kind === 'event') {
      return function () { /* accepted; ctikit never fires this event */ };
    }
    return function () {
      var callback = kind === 'call' ? lastFunction(arguments) : null;
      if (callback) later(callback, notSupported(fields), 'callback');
      else warnOnce(path);
    };
  }

  // The tab methods (integration-tabs.js, put here by the server) with the helpers they use.
  var tabMethods = (__CTIKIT_TABS__)({
    version: API.version, request: request, later: later, checkCallback: checkCallback, describe: describe,
    compatIds: compatIds, isFunction: isFunction, logError: logError, safeCall: safeCall,
    onEvent: function (event, fn) { consoleEvents.set(event, fn); },
  });
  Object.keys(tabMethods).forEach(function (name) { members[name] = tabMethods[name]; });

  var IMPLEMENTATIONS = { console: members, cti: methods };

  Object.keys(API.namespaces || {}).forEach(function (ns) {
    var spec = API.namespaces[ns];
    var prefix = ns === 'console' ? 'sforce.console.' : 'sforce.console.' + ns + '.';
    var target = ns === 'console' ? sconsole : (sconsole[ns] = sconsole[ns] || {});
    var real = IMPLEMENTATIONS[ns] || {};
    spec.implemented.forEach(function (name) {
      if (Object.prototype.hasOwnProperty.call(real, name)) {
        target[name] = guarded(prefix + name, real[name], SIGNATURES[name]);
      }
    });
    Object.keys(spec.unsupported).forEach(function (name) {
      var how = spec.unsupported[name];
      target[name] = unsupportedMember(prefix + name, how[0], how[1]);
    });
  });

  // Enumerations (TabLink, Region, ComponentType, ConsoleEvent), frozen as the values are
  // constants of the API.
  function deepFreeze(value) {
    if (value !== null && typeof value === 'object') {
      Object.keys(value).forEach(function (k) { deepFreeze(value[k]); });
      Object.freeze(value);
    }
    return value;
  }
  Object.keys(API.enums || {}).forEach(function (name) { sconsole[name] = deepFreeze(API.enums[name]); });
})(__CTIKIT_API__);
