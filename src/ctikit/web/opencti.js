/*
 * ctikit opencti.js: sforce.opencti, the Lightning Experience Open CTI API, for a softphone
 * page loaded in a ctikit console's softphone panel (docs/open-cti.md).
 *
 * Served as /support/api/NN.0/lightning/opencti_min.js (and opencti.js) with version NN's
 * table (ctikit.core.opencti.lightning_table) as the argument below: a method of a later
 * version is not defined. Every method takes ONE object ({..., callback} or {listener});
 * callbacks get {success, returnValue, errors}; bad arguments are answered in that shape,
 * never thrown. Requests go to the console over the shared link (link.js).
 */
(function (API) {
  'use strict';

  var sforce = window.sforce = window.sforce || {};
  var oc = sforce.opencti = sforce.opencti || {};
  var MAX_LISTENERS = 100;
  var listeners = new Map([['clickToDial', []], ['navigationChange', []]]);

  function isFunction(f) { return typeof f === 'function'; }
  function isObject(o) { return o !== null && typeof o === 'object' && !Array.isArray(o); }
  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  function logError(what, err) {
    try { window.console.error('ctikit opencti.js: ' + what, err === undefined ? '' : err); } catch (e) { /* none */ }
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

  var link = (__CTIKIT_LINK__)({ what: 'opencti.js', dispatch: onEvent });

  // ------------------------------------------------------------------ answers

  function deliver(callback, result) {
    if (isFunction(callback)) setTimeout(function () { safeCall(callback, result, 'callback'); }, 0);
    else if (!result.success) logError(result.errors[0].description);
  }

  function ok(callback, value) {
    deliver(callback, { success: true, returnValue: value === undefined ? null : value, errors: null });
  }

  function fail(callback, message) {
    deliver(callback, { success: false, returnValue: null, errors: [{ description: String(message) }] });
  }

  // Ask the console to do `method` with `args`; the callback gets the documented shape.
  function ask(method, args, callback, shape) {
    link.request('openCti', { method: method, args: args }, function (r) {
      if (r.success) ok(callback, shape ? shape(r.returnValue) : r.returnValue);
      else fail(callback, r.error || 'failed');
    });
  }

  // ------------------------------------------------------------------ argument checks

  // The one argument object: missing is {} (enableClickToDial()); anything else is refused.
  // Returns {args, callback} or null when refused (already answered).
  function argsOf(method, given, callbackName) {
    var name = callbackName || 'callback';
    if (given === undefined || given === null) return { args: {}, callback: null };
    if (!isObject(given)) {
      // A function alone is taken as the callback: some pages pass one by mistake.
      if (isFunction(given)) { fail(given, method + ' takes one object argument: ' + method + '({' + name + ': ...})'); }
      else logError(method + ' takes one object argument, got ' + describe(given));
      return null;
    }
    var cb = given[name];
    if (cb !== undefined && cb !== null && !isFunction(cb)) {
      logError(method + ': ' + name + ' must be a function, got ' + describe(cb));
      cb = null;
    }
    return { args: given, callback: cb || null };
  }

  function optString(args, key, max) {
    var v = args[key];
    if (v === undefined || v === null) return { value: null };
    if (typeof v !== 'string') return { error: key + ' must be a string, got ' + describe(v) };
    if (v.length > (max || 10000)) return { error: key + ' is longer than ' + (max || 10000) + ' characters' };
    return { value: v };
  }

  function reqString(args, key, max) {
    var v = optString(args, key, max);
    if (!v.error && (v.value === null || v.value.trim() === '')) return { error: key + ' must be a non-empty string' };
    return v;
  }

  // A flat record {Field: value}: values are strings, numbers, booleans or null.
  function record(value, key) {
    if (value === undefined || value === null) return { value: {} };
    if (!isObject(value)) return { error: key + ' must be an object of field: value, got ' + describe(value) };
    var out = Object.create(null);
    var names = Object.keys(value);
    if (names.length > 200) return { error: key + ' has more than 200 fields' };
    for (var i = 0; i < names.length; i++) {
      var v = value[names[i]];
      var t = typeof v;
      if (v === null || t === 'string' || t === 'boolean' || (t === 'number' && isFinite(v))) out[names[i]] = v;
      else if (v !== undefined) return { error: key + '.' + names[i] + ' must be a string, number, boolean or null' };
    }
    return { value: plain(out) };
  }

  // A copy with own data properties only: safe to post (a "__proto__" key stays a key).
  function plain(map) {
    var out = {};
    Object.keys(map).forEach(function (k) {
      Object.defineProperty(out, k, { value: map[k], enumerable: true, writable: true, configurable: true });
    });
    return out;
  }

  function callTypeOf(value) {
    if (value === undefined || value === null || value === '') return { value: null };
    var lower = typeof value === 'string' ? value.toLowerCase() : null;
    if (['inbound', 'outbound', 'internal'].indexOf(lower) < 0) {
      return { error: 'callType must be one of sforce.opencti.CALL_TYPE (got ' + describe(value) + ')' };
    }
    return { value: lower };
  }

  function sizeArg(args, key, range) {
    var v = args[key];
    if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) v = Number(v);
    if (typeof v !== 'number' || !isFinite(v) || v < range[0] || v > range[1]) {
      return { error: key + ' must be a number of pixels from ' + range[0] + ' to ' + range[1] + ' (got ' + describe(args[key]) + ')' };
    }
    return { value: Math.round(v) };
  }

  // ------------------------------------------------------------------ the methods

  var screenPopValues = Object.keys(API.screenPopTypes).map(function (k) { return API.screenPopTypes[k]; });

  var methods = {
    saveLog: function (a, cb) {
      var value = a.value;
      if (!isObject(value)) return fail(cb, 'value must be an object of the record\'s fields, e.g. {entityApiName: "Task", Subject: "Call"}');
      var fields = record(value, 'value');
      if (fields.error) return fail(cb, fields.error);
      var f = fields.value;
      var id = has(f, 'Id') ? f.Id : null;
      if (id !== null && (typeof id !== 'string' || id === '')) return fail(cb, 'value.Id must be a non-empty string');
      var entity = has(f, 'entityApiName') ? f.entityApiName : null;
      if (entity !== null && typeof entity !== 'string') return fail(cb, 'value.entityApiName must be a string');
      var rest = {};
      Object.keys(f).forEach(function (k) {
        if (k !== 'Id' && k !== 'entityApiName') Object.defineProperty(rest, k, { value: f[k], enumerable: true, writable: true, configurable: true });
      });
      ask('saveLog', { id: id, entity: entity, fields: rest }, cb, function (rv) {
        // The record's ID, as Salesforce answers: {recordId}; `id` too, as some pages read.
        return { recordId: rv.id, id: rv.id };
      });
    },

    screenPop: function (a, cb) {
      var type = a.type;
      if (screenPopValues.indexOf(type) < 0) {
        return fail(cb, 'type must be one of sforce.opencti.SCREENPOP_TYPE (got ' + describe(type) + ')');
      }
      if (a.params !== undefined && a.params !== null && !isObject(a.params)) return fail(cb, 'params must be an object');
      var params = record(a.params, 'params');
      if (params.error && type !== 'flow') return fail(cb, params.error);
      var out = { type: type, params: params.value || {} };
      if (type === 'flow' && isObject(a.params)) out.params = { flowDevName: String(a.params.flowDevName || '') };
      ask('screenPop', out, cb);
    },

    searchAndScreenPop: function (a, cb) {
      var search = optString(a, 'searchParams', 1000);
      if (search.error) return fail(cb, search.error);
      // queryParams: a string, or an object turned into "key=value&..." (escaped).
      var query = isObject(a.queryParams) ? queryString(a.queryParams) : optString(a, 'queryParams', 2000);
      if (query.error) return fail(cb, query.error);
      var defaults = record(a.defaultFieldValues, 'defaultFieldValues');
      if (defaults.error) return fail(cb, defaults.error);
      var callType = callTypeOf(a.callType);
      if (callType.error) return fail(cb, callType.error);
      if (a.deferred !== undefined && typeof a.deferred !== 'boolean') return fail(cb, 'deferred must be true or false');
      ask('searchAndScreenPop', {
        searchParams: search.value || '', queryParams: query.value || '', defaultFieldValues: defaults.value,
        callType: callType.value, deferred: a.deferred === true,
      }, cb);
    },

    enableClickToDial: function (a, cb) { ask('enableClickToDial', {}, cb); },
    disableClickToDial: function (a, cb) { ask('disableClickToDial', {}, cb); },

    setSoftphonePanelVisibility: function (a, cb) {
      if (typeof a.visible !== 'boolean') return fail(cb, 'visible must be true or false (got ' + describe(a.visible) + ')');
      ask('setVisible', { visible: a.visible }, cb);
    },
    isSoftphonePanelVisible: function (a, cb) {
      ask('isVisible', {}, cb, function (rv) { return { visible: !!rv }; });
    },
    setSoftphonePanelHeight: function (a, cb) {
      var px = sizeArg(a, 'heightPX', API.height);
      if (px.error) return fail(cb, px.error);
      ask('setHeight', { px: px.value }, cb);
    },
    setSoftphonePanelWidth: function (a, cb) {
      var px = sizeArg(a, 'widthPX', API.width);
      if (px.error) return fail(cb, px.error);
      ask('setWidth', { px: px.value }, cb);
    },
    setSoftphonePanelLabel: function (a, cb) { label('setLabel', a, cb, 'label'); },
    setSoftphoneItemLabel: function (a, cb) { label('setItemLabel', a, cb, 'label'); },
    setSoftphonePanelIcon: function (a, cb) { label('setIcon', a, cb, 'key'); },
    setSoftphoneItemIcon: function (a, cb) { label('setItemIcon', a, cb, 'key'); },

    getCallCenterSettings: function (a, cb) { ask('getCallCenterSettings', {}, cb); },
    getSoftphoneLayout: function (a, cb) { ask('getSoftphoneLayout', {}, cb); },
    getAppViewInfo: function (a, cb) { ask('getAppViewInfo', {}, cb); },
    refreshView: function (a, cb) { ask('refreshView', {}, cb); },

    runApex: function (a, cb) {
      var cls = reqString(a, 'apexClass', 255);
      if (cls.error) return fail(cb, cls.error);
      var m = reqString(a, 'methodName', 255);
      if (m.error) return fail(cb, m.error);
      var params = optString(a, 'methodParams', 64 * 1024);
      if (params.error) return fail(cb, params.error);
      ask('runApex', { apexClass: cls.value, methodName: m.value, methodParams: params.value || '' }, cb);
    },
  };

  function queryString(params) {
    var fields = record(params, 'queryParams');
    if (fields.error) return fields;
    var text = Object.keys(fields.value).map(function (k) {
      var v = fields.value[k];
      return encodeURIComponent(k) + '=' + encodeURIComponent(v === null ? '' : String(v));
    }).join('&');
    return text.length > 2000 ? { error: 'queryParams is longer than 2000 characters' } : { value: text };
  }

  function label(op, a, cb, key) {
    var text = reqString(a, key, 255);
    if (text.error) return fail(cb, text.error);
    ask(op, { text: text.value }, cb);
  }

  var listenerMethods = {
    onClickToDial: 'clickToDial',
    onNavigationChange: 'navigationChange',
  };

  function addListener(method, given) {
    var parsed = argsOf(method, given, 'listener');
    if (!parsed) return;
    if (!isFunction(parsed.args.listener)) return logError(method + ': listener must be a function, got ' + describe(parsed.args.listener));
    var list = listeners.get(listenerMethods[method]);
    if (list.length >= MAX_LISTENERS) return logError(method + ': more than ' + MAX_LISTENERS + ' listeners; ignored');
    list.push(parsed.args.listener);
    // The console starts sending navigation changes once someone listens.
    if (method === 'onNavigationChange') link.request('openCti', { method: 'watchNavigation', args: {} }, function () {});
  }

  // Events the console pushes to the softphone panel.
  function onEvent(event, data) {
    if (event !== 'openCti' || !isObject(data) || !isObject(data.payload)) return;
    var list = data.type === 'clickToDial' ? listeners.get('clickToDial')
      : data.type === 'navigationChange' ? listeners.get('navigationChange') : null;
    if (!list) return;
    list.slice().forEach(function (fn) { safeCall(fn, Object.assign({}, data.payload), 'listener'); });
  }

  // ------------------------------------------------------------------ assembling

  API.methods.forEach(function (name) {
    if (has(listenerMethods, name)) {
      oc[name] = function (given) {
        try { addListener(name, given); } catch (err) { logError(name + ' failed', err); }
      };
    } else if (name === 'notifyInitializationComplete') {
      // Documented without arguments; an optional {callback} is answered too.
      oc[name] = function (given) {
        try {
          var cb = isObject(given) && isFunction(given.callback) ? given.callback : null;
          ask('initialized', {}, cb);
        } catch (err) { logError(name + ' failed', err); }
      };
    } else if (has(methods, name)) {
      oc[name] = function (given) {
        var parsed = null;
        try {
          parsed = argsOf(name, given);
          if (parsed) methods[name](parsed.args, parsed.callback);
        } catch (err) {
          logError(name + ' failed', err);
          if (parsed) fail(parsed.callback, name + ' failed: ' + (err && err.message));
        }
      };
    }
  });

  function freeze(o) { return Object.freeze(Object.assign({}, o)); }
  oc.SCREENPOP_TYPE = freeze(API.screenPopTypes);
  oc.CALL_TYPE = freeze(API.callTypes);
})(__CTIKIT_API__);
