/*
 * ctikit interaction.js: sforce.interaction and sforce.interaction.cti, the Salesforce Classic
 * Open CTI API, for a softphone page loaded in a ctikit console's softphone panel
 * (docs/open-cti.md).
 *
 * Served as /support/api/NN.0/interaction.js with version NN's table
 * (ctikit.core.opencti.classic_table) as the argument below. Arguments are positional with the
 * callback last; callbacks get {result, error}. Results that carry data are JSON strings, as
 * pages JSON.parse them. Nothing throws; bad arguments get {result: null, error}.
 * Requests go to the console over the shared link (link.js), as opencti.js's do.
 */
(function (API) {
  'use strict';

  var sforce = window.sforce = window.sforce || {};
  var si = sforce.interaction = sforce.interaction || {};
  var cti = si.cti = si.cti || {};
  var MAX_LISTENERS = 100;
  var listeners = new Map([['clickToDial', []], ['focus', []]]);

  function isFunction(f) { return typeof f === 'function'; }
  function isObject(o) { return o !== null && typeof o === 'object' && !Array.isArray(o); }
  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  function logError(what, err) {
    try { window.console.error('ctikit interaction.js: ' + what, err === undefined ? '' : err); } catch (e) { /* none */ }
  }

  function safeCall(fn, arg, what) {
    try { fn(arg); } catch (err) { logError('a ' + what + ' threw', err); }
  }

  function describe(value) {
    if (value === undefined) return 'undefined';
    if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value);
    if (typeof value === 'function') return 'a function';
    if (Array.isArray(value)) return 'an array';
    return typeof value === 'object' ? (value === null ? 'null' : 'an object') : String(value);
  }

  var link = (__CTIKIT_LINK__)({ what: 'interaction.js', dispatch: onEvent });

  function deliver(callback, result) {
    if (isFunction(callback)) setTimeout(function () { safeCall(callback, result, 'callback'); }, 0);
    else if (result.error) logError(result.error);
  }

  function fail(callback, message) { deliver(callback, { result: null, error: String(message) }); }

  // Ask the console; `shape(returnValue)` -> the result object on success.
  function ask(method, args, callback, shape) {
    link.request('openCti', { method: method, args: args }, function (r) {
      if (r.success) deliver(callback, shape ? shape(r.returnValue) : { result: true });
      else fail(callback, r.error || 'failed');
    });
  }

  function json(value) { return JSON.stringify(value === undefined ? null : value); }
  function asJson(rv) { return { result: json(rv) }; }

  // "Subject=Call&Status=Completed" -> {Subject: 'Call', Status: 'Completed'} (own keys only).
  function parseParams(text) {
    var out = {};
    new URLSearchParams(text).forEach(function (value, key) {
      Object.defineProperty(out, key, { value: value, enumerable: true, writable: true, configurable: true });
    });
    return out;
  }

  function callType(value) {
    if (value === undefined || value === null || value === '') return { value: null };
    var lower = typeof value === 'string' ? value.toLowerCase() : null;
    if (['inbound', 'outbound', 'internal'].indexOf(lower) < 0) return { error: 'callType must be inbound, outbound or internal (got ' + describe(value) + ')' };
    return { value: lower };
  }

  function size(value, range, name) {
    var v = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof v !== 'number' || !isFinite(v) || v < range[0] || v > range[1]) {
      return { error: name + ' must be a number of pixels from ' + range[0] + ' to ' + range[1] + ' (got ' + describe(value) + ')' };
    }
    return { value: Math.round(v) };
  }

  function optText(value, name, max) {
    if (value === undefined || value === null) return { value: '' };
    if (typeof value !== 'string') return { error: name + ' must be a string, got ' + describe(value) };
    if (value.length > max) return { error: name + ' is longer than ' + max + ' characters' };
    return { value: value };
  }

  function search(method, searchParams, queryParams, type, cb, pop) {
    var s = optText(searchParams, 'searchParams', 1000);
    if (s.error) return fail(cb, s.error);
    var q = optText(queryParams, 'queryParams', 2000);
    if (q.error) return fail(cb, q.error);
    var t = callType(type);
    if (t.error) return fail(cb, t.error);
    ask('searchAndScreenPop', { searchParams: s.value, queryParams: q.value, defaultFieldValues: {},
      callType: t.value, deferred: !pop, classic: true }, cb, asJson);
  }

  // Each method: function(args..., callback); `cb` is the last function among the arguments
  // only where the documented position holds none (a callback given too early still hears).
  var methods = {
    isInConsole: function (cb) { ask('isInConsole', {}, cb, function (rv) { return { result: !!rv }; }); },

    screenPop: function (url, force, cb) {
      if (typeof url !== 'string' || url.trim() === '') return fail(cb, 'url must be a non-empty string, got ' + describe(url));
      ask('screenPop', { type: 'url', params: { url: url }, classic: true }, cb);
    },

    getPageInfo: function (cb) { ask('getAppViewInfo', { classic: true }, cb, asJson); },
    setVisible: function (visible, cb) {
      if (typeof visible !== 'boolean') return fail(cb, 'the first argument must be true or false, got ' + describe(visible));
      ask('setVisible', { visible: visible }, cb);
    },
    isVisible: function (cb) { ask('isVisible', {}, cb, function (rv) { return { result: !!rv }; }); },

    saveLog: function (object, saveParams, cb) {
      if (typeof object !== 'string' || object === '') return fail(cb, 'object must be an object name such as "Task", got ' + describe(object));
      if (typeof saveParams !== 'string') return fail(cb, 'saveParams must be a string "Field=value&...", got ' + describe(saveParams));
      if (saveParams.length > 128 * 1024) return fail(cb, 'saveParams is longer than 131072 characters');
      var fields = parseParams(saveParams);
      var id = has(fields, 'Id') ? fields.Id : null;
      if (id !== null) delete fields.Id;
      ask('saveLog', { id: id, entity: object, fields: fields }, cb, function (rv) { return { result: true, id: rv.id }; });
    },

    runApex: function (apexClass, methodName, methodParams, cb) {
      if (typeof apexClass !== 'string' || apexClass === '') return fail(cb, 'apexClass must be a non-empty string');
      if (typeof methodName !== 'string' || methodName === '') return fail(cb, 'methodName must be a non-empty string');
      var p = optText(methodParams, 'methodParams', 64 * 1024);
      if (p.error) return fail(cb, p.error);
      ask('runApex', { apexClass: apexClass, methodName: methodName, methodParams: p.value }, cb, function (rv) {
        return { result: rv && rv.runApex !== undefined ? rv.runApex : rv };
      });
    },

    searchAndScreenPop: function (searchParams, queryParams, type, cb) {
      search('searchAndScreenPop', searchParams, queryParams, type, cb, true);
    },
    searchAndGetScreenPopUrl: function (searchParams, queryParams, type, cb) {
      search('searchAndGetScreenPopUrl', searchParams, queryParams, type, cb, false);
    },
    refreshPage: function (cb) { ask('refreshView', {}, cb); },
    refreshRelatedList: function (listName, cb) {
      if (typeof listName !== 'string' || listName === '') return fail(cb, 'listName must be a non-empty string');
      ask('refreshView', {}, cb);
    },

    'cti.enableClickToDial': function (cb) { ask('enableClickToDial', {}, cb); },
    'cti.disableClickToDial': function (cb) { ask('disableClickToDial', {}, cb); },
    'cti.getCallCenterSettings': function (cb) { ask('getCallCenterSettings', {}, cb, asJson); },
    'cti.getSoftphoneLayout': function (cb) { ask('getSoftphoneLayout', {}, cb, asJson); },
    'cti.getDirectoryNumbers': function (cb) { ask('getDirectoryNumbers', {}, cb, asJson); },
    'cti.setSoftphoneHeight': function (px, cb) {
      var v = size(px, API.height, 'height');
      if (v.error) return fail(cb, v.error);
      ask('setHeight', { px: v.value }, cb);
    },
    'cti.setSoftphoneWidth': function (px, cb) {
      var v = size(px, API.width, 'width');
      if (v.error) return fail(cb, v.error);
      ask('setWidth', { px: v.value }, cb);
    },
  };

  // Positions of the callback, for a callback passed before its place (arguments left out).
  var CALLBACK_AT = {
    screenPop: 2, setVisible: 1, saveLog: 2, runApex: 3, searchAndScreenPop: 3,
    searchAndGetScreenPopUrl: 3, refreshRelatedList: 1, 'cti.setSoftphoneHeight': 1, 'cti.setSoftphoneWidth': 1,
  };

  function addListener(kind, method, fn) {
    if (!isFunction(fn)) return logError(method + ': the listener must be a function, got ' + describe(fn));
    var list = listeners.get(kind);
    if (list.length >= MAX_LISTENERS) return logError(method + ': more than ' + MAX_LISTENERS + ' listeners; ignored');
    list.push(fn);
    if (kind === 'focus') link.request('openCti', { method: 'watchNavigation', args: {} }, function () {});
  }

  var listenerMethods = {
    onFocus: function (fn) { addListener('focus', 'onFocus', fn); },
    'cti.onClickToDial': function (fn) { addListener('clickToDial', 'onClickToDial', fn); },
    'cti.notifyInitializationComplete': function () {
      link.request('openCti', { method: 'initialized', args: {} }, function () {});
    },
  };

  // Classic listeners get {result: JSON string}.
  function onEvent(event, data) {
    if (event !== 'openCti' || !isObject(data) || !isObject(data.payload)) return;
    var kind = data.type === 'clickToDial' ? 'clickToDial' : data.type === 'navigationChange' ? 'focus' : null;
    if (!kind) return;
    var text = json(data.payload);
    listeners.get(kind).slice().forEach(function (fn) { safeCall(fn, { result: text }, 'listener'); });
  }

  function lastFunction(args) {
    for (var i = args.length - 1; i >= 0; i--) if (isFunction(args[i])) return args[i];
    return null;
  }

  API.methods.forEach(function (path) {
    var dot = path.indexOf('.');
    var target = dot < 0 ? si : cti;
    var name = dot < 0 ? path : path.slice(dot + 1);
    if (has(listenerMethods, path)) {
      target[name] = function () {
        try { listenerMethods[path].apply(null, arguments); } catch (err) { logError(name + ' failed', err); }
      };
      return;
    }
    var fn = methods[path];
    if (!fn) return;
    target[name] = function () {
      var args = Array.prototype.slice.call(arguments);
      var at = has(CALLBACK_AT, path) ? CALLBACK_AT[path] : 0;
      var cb = args[at];
      try {
        if (cb !== undefined && cb !== null && !isFunction(cb)) {
          logError(name + ': the callback must be a function, got ' + describe(cb));
          args[at] = null;
        } else if (!isFunction(cb) && lastFunction(args)) {
          return fail(lastFunction(args), 'missing arguments: see the ' + name + ' documentation');
        }
        return fn.apply(null, args.slice(0, at + 1));
      } catch (err) {
        logError(name + ' failed', err);
        if (isFunction(args[at])) fail(args[at], name + ' failed: ' + (err && err.message));
      }
    };
  });
})(__CTIKIT_API__);
