/*
 * ctikit integration.js, part 2: the tab methods of sforce.console (primary tabs, subtabs,
 * their focus events). The server puts this function into integration.js, which calls it
 * with its helpers (`lib`) and defines the members it returns for the versions that have them.
 *
 * Each method checks its arguments here (so a bad one fails at once, in the caller's words),
 * resolves a relative URL against the component's own page, and sends one `tab` request
 * {method, args} to the console, which answers from its workspace (web/console/tab-api.js).
 * Argument orders are the developer guide's; a callback passed in the place of an optional
 * argument that was left out (openPrimaryTab(null, url, true, callback)) is taken as the
 * callback. Nothing throws; every callback is called asynchronously with `success` and the
 * result fields the guide documents.
 */
(function (lib) {
  'use strict';

  var isFunction = lib.isFunction;
  var MAX_HANDLERS = 100; // per event, as for the CTI events

  function text(value, name, optional) {
    if (optional && (value === undefined || value === null || value === '')) return { value: null };
    if (typeof value === 'number' && isFinite(value)) value = String(value); // the original stringifies
    if (typeof value !== 'string' || value === '') {
      return { error: name + (optional ? ' must be a string' : ' must be a non-empty string') + ', got ' + lib.describe(value) };
    }
    return { value: value };
  }

  // A URL relative to this page, made absolute (the console decides which ones may open).
  function urlArg(value) {
    var t = text(value, 'url', false);
    if (t.error) return t;
    try {
      return { value: new URL(t.value.trim(), window.location.href).href };
    } catch (e) {
      return { error: 'url is not a URL: ' + lib.describe(value) };
    }
  }

  /**
   * A method from its documented parameter list. `optionalFrom`: the first optional parameter
   * before the callback (where a callback may come early). `check(args)` returns the fields
   * to send, or {error}; `shape(response, callback)` delivers the answer.
   */
  function method(name, params, optionalFrom, check, shape) {
    var cbAt = params.indexOf('callback');
    return function () {
      var args = Array.prototype.slice.call(arguments);
      var callback = cbAt >= 0 ? args[cbAt] : undefined;
      if (cbAt >= 0 && !isFunction(callback)) {
        for (var i = optionalFrom; i < cbAt; i++) {
          if (isFunction(args[i])) { callback = args[i]; args = args.slice(0, i); break; }
        }
      }
      if (!lib.checkCallback(callback, name)) return;
      var named = {};
      params.forEach(function (p, i) { if (p !== 'callback') named[p] = args[i]; });
      var fields = check(named);
      if (fields.error) return shape({ success: false, error: fields.error }, callback);
      lib.request('tab', { method: name, args: fields }, function (r) { shape(r, callback); });
    };
  }

  // Answers: {success} / {success, id} / {success, ids} / {success, pageInfo}, with `error`
  // on failure and the documented field empty.
  function plain(r, cb) {
    lib.later(cb, r.success ? { success: true } : { success: false, error: String(r.error) }, 'callback');
  }
  // (The console sends an `id` result as `resultId`: a response's own `id` names its request.)
  function withField(field, empty) {
    var from = field === 'id' ? 'resultId' : field;
    return function (r, cb) {
      var out = { success: r.success === true };
      out[field] = r.success ? r[from] : empty();
      if (field === 'ids') out.ids = lib.compatIds(out.success ? r.ids : []);
      if (field === 'id' && out.id === undefined) out.id = null;
      if (!out.success) out.error = String(r.error);
      lib.later(cb, out, 'callback');
    };
  }
  var withId = withField('id', function () { return null; });
  var withIds = withField('ids', function () { return []; });
  var withPageInfo = withField('pageInfo', function () { return null; });

  function none() { return {}; }

  // Each check returns the fields to send or {error}. `pick` collects checked arguments.
  function pick(spec) {
    return function (a) {
      var out = {};
      for (var k in spec) {
        if (!Object.prototype.hasOwnProperty.call(spec, k)) continue;
        var c = spec[k](a[k], k);
        if (c.error) return c;
        out[k] = c.value;
      }
      return out;
    };
  }
  function req(v, k) { return text(v, k, false); }
  function opt(v, k) { return text(v, k, true); }
  function flag(v) { return { value: Boolean(v) }; }
  function url(v) { return urlArg(v); }

  var open = { id: opt, url: url, active: flag, tabLabel: opt, name: opt };

  var methods = {
    openPrimaryTab: method('openPrimaryTab', ['id', 'url', 'active', 'tabLabel', 'callback', 'name'], 3, pick(open), withId),
    openSubtab: method('openSubtab', ['primaryTabId', 'url', 'active', 'tabLabel', 'id', 'callback', 'name'], 3,
      pick(Object.assign({ primaryTabId: req }, open)), withId),
    openSubtabByPrimaryTabName: method('openSubtabByPrimaryTabName',
      ['primaryTabName', 'url', 'active', 'tabLabel', 'id', 'callback', 'name'], 3,
      pick(Object.assign({ primaryTabName: req }, open)), withId),

    getEnclosingTabId: method('getEnclosingTabId', ['callback'], 0, none, withId),
    getEnclosingPrimaryTabId: method('getEnclosingPrimaryTabId', ['callback'], 0, none, withId),
    getEnclosingPrimaryTabObjectId: method('getEnclosingPrimaryTabObjectId', ['callback'], 0, none, withId),
    getFocusedPrimaryTabId: method('getFocusedPrimaryTabId', ['callback'], 0, none, withId),
    getFocusedPrimaryTabObjectId: method('getFocusedPrimaryTabObjectId', ['callback'], 0, none, withId),
    getFocusedSubtabId: method('getFocusedSubtabId', ['callback'], 0, none, withId),
    getFocusedSubtabObjectId: method('getFocusedSubtabObjectId', ['callback'], 0, none, withId),
    getPrimaryTabIds: method('getPrimaryTabIds', ['callback'], 0, none, withIds),
    getSubtabIds: method('getSubtabIds', ['primaryTabId', 'callback'], 0, pick({ primaryTabId: opt }), withIds),
    getPageInfo: method('getPageInfo', ['tabId', 'callback'], 0, pick({ tabId: opt }), withPageInfo),

    focusPrimaryTabById: method('focusPrimaryTabById', ['id', 'callback'], 1, pick({ id: req }), plain),
    focusPrimaryTabByName: method('focusPrimaryTabByName', ['name', 'callback'], 1, pick({ name: req }), plain),
    focusSubtabById: method('focusSubtabById', ['id', 'callback'], 1, pick({ id: req }), plain),
    focusSubtabByNameAndPrimaryTabId: method('focusSubtabByNameAndPrimaryTabId', ['name', 'primaryTabId', 'callback'], 2,
      pick({ name: req, primaryTabId: req }), plain),
    focusSubtabByNameAndPrimaryTabName: method('focusSubtabByNameAndPrimaryTabName',
      ['name', 'primaryTabName', 'callback'], 2, pick({ name: req, primaryTabName: req }), plain),

    closeTab: method('closeTab', ['id', 'callback'], 1, pick({ id: req }), plain),

    refreshPrimaryTabById: method('refreshPrimaryTabById', ['id', 'active', 'callback', 'fullRefresh'], 1,
      pick({ id: req, active: flag }), plain),
    refreshPrimaryTabByName: method('refreshPrimaryTabByName', ['name', 'active', 'callback', 'fullRefresh'], 1,
      pick({ name: req, active: flag }), plain),
    refreshSubtabById: method('refreshSubtabById', ['id', 'active', 'callback'], 1, pick({ id: req, active: flag }), plain),
    refreshSubtabByNameAndPrimaryTabId: method('refreshSubtabByNameAndPrimaryTabId',
      ['name', 'primaryTabId', 'active', 'callback'], 2, pick({ name: req, primaryTabId: req, active: flag }), plain),
    refreshSubtabByNameAndPrimaryTabName: method('refreshSubtabByNameAndPrimaryTabName',
      ['name', 'primaryTabName', 'active', 'callback'], 2, pick({ name: req, primaryTabName: req, active: flag }), plain),

    // Documented with no callback and no result: a failure goes to the browser's console.
    // The tab ID argument exists from 25.0 on; before, the enclosing tab's title is set.
    setTabTitle: function (tabTitle, tabId) {
      var title = text(tabTitle, 'tabTitle', true);
      var id = lib.version >= 25 ? text(tabId, 'tabId', true) : { value: null };
      var bad = title.error || id.error;
      if (bad) return lib.logError('setTabTitle: ' + bad);
      lib.request('tab', { method: 'setTabTitle', args: { title: title.value, tabId: id.value } }, function (r) {
        if (!r.success) lib.logError('setTabTitle: ' + r.error);
      });
    },

    onFocusedPrimaryTab: function (handler) { listen('focusedPrimaryTab', handler, 'onFocusedPrimaryTab'); },
    onFocusedSubtab: function (handler) { listen('focusedSubtab', handler, 'onFocusedSubtab'); },
    onEnclosingTabRefresh: function (handler) { listen('tabRefresh', handler, 'onEnclosingTabRefresh'); },
  };

  // Console events -> handlers, each called with {id, objectId}.
  var handlers = new Map([['focusedPrimaryTab', []], ['focusedSubtab', []], ['tabRefresh', []]]);

  function listen(event, handler, name) {
    if (!isFunction(handler)) return lib.logError(name + ': the event handler must be a function, got ' + lib.describe(handler));
    var list = handlers.get(event);
    if (list.length >= MAX_HANDLERS) return lib.logError(name + ': more than ' + MAX_HANDLERS + ' handlers registered; this one is ignored');
    list.push(handler);
  }

  handlers.forEach(function (list, event) {
    lib.onEvent(event, function (data) {
      if (typeof data.id !== 'string') return;
      var objectId = typeof data.objectId === 'string' ? data.objectId : null;
      list.slice().forEach(function (fn) { lib.safeCall(fn, { id: data.id, objectId: objectId }, event + ' handler'); });
    });
  });

  return methods;
})
