/*
 * ctikit agent console: the tab methods of sforce.console, answered by the console itself.
 *
 * integration.js sends each tab method as one `tab` request {method, args} through the
 * bridge; this module carries it out on the workspace (workspace.js) and answers with the
 * fields integration.js hands to the component's callback (an `id` result as `resultId`: a response's
 * `id` is its request's). It knows which frame asks: a page
 * in a tab has an enclosing tab, a component in a side slot has none.
 *
 * It also pushes the tab events to every component: focusedPrimaryTab and focusedSubtab
 * {id, objectId} when the agent (or a component) moves between tabs, and tabRefresh
 * {id, objectId} to a page whose tab was refreshed, once it is loaded again.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var NOT_IN_TAB = 'this component is not in a tab (it is in a side slot of the console)';

  function isStr(v) { return typeof v === 'string' && v !== ''; }
  function optStr(v) { return v === undefined || v === null ? null : v; }

  /** opts: {workspace, bridge}. */
  function TabApi(opts) {
    this.ws = opts.workspace;
    this.bridge = opts.bridge;
    this.refreshed = new Set(); // subtab IDs whose reloaded page hears tabRefresh when ready
    this.last = {primaryId: null, subtabId: null};
    var self = this;
    this.bridge.handleLocally(new Map([['tab', ['method', 'args']]]), function (op, fields, from) {
      return self.answer(fields.method, fields.args, from);
    });
    this.bridge.onComponentReady(function (iframe, info) { self._ready(info); });
    this.ws.onFocusChange(function (f) { self._focusChanged(f); });
  }

  /** The answer to one tab method from the frame `from` ({tabId, origin}). Never throws. */
  TabApi.prototype.answer = function (method, args, from) {
    var fn = typeof method === 'string' && METHODS.has(method) ? METHODS.get(method) : null;
    if (!fn) return {success: false, error: 'unknown tab method ' + JSON.stringify(String(method)).slice(0, 60)};
    if (args === null || typeof args !== 'object' || Array.isArray(args)) return {success: false, error: 'bad arguments'};
    try {
      return fn.call(this, args, from);
    } catch (e) {
      return {success: false, error: String(e && e.message || e)};
    }
  };

  // ------------------------------------------------------------------ helpers

  /** The enclosing tab of the asking frame: {subtab, primary} IDs, or null (a side slot). */
  TabApi.prototype._enclosing = function (from) {
    var tab = from && from.tabId ? this.ws.tab(from.tabId) : null;
    return tab ? {subtab: tab.id, primary: tab.primaryId} : null;
  };

  TabApi.prototype._primary = function (id) {
    var tab = isStr(id) ? this.ws.tab(id) : null;
    if (!tab || !tab.primary) throw new Error('no open primary tab has the ID ' + JSON.stringify(String(id)).slice(0, 80));
    return tab;
  };

  TabApi.prototype._subtab = function (id) {
    var tab = isStr(id) ? this.ws.tab(id) : null;
    if (!tab || tab.primary) throw new Error('no open subtab has the ID ' + JSON.stringify(String(id)).slice(0, 80));
    return tab;
  };

  TabApi.prototype._byName = function (name) {
    var id = isStr(name) ? this.ws.primaryByName(name) : null;
    if (!id) throw new Error('no open primary tab has the name ' + JSON.stringify(String(name)).slice(0, 80));
    return id;
  };

  TabApi.prototype._subtabByName = function (primaryId, name) {
    var id = isStr(name) ? this.ws.subtabByName(primaryId, name) : null;
    if (!id) throw new Error('no subtab named ' + JSON.stringify(String(name)).slice(0, 80) + ' in ' + primaryId);
    return id;
  };

  function base(from) { return from && from.origin ? from.origin + '/' : undefined; }

  // ------------------------------------------------------------------ the methods

  var METHODS = new Map();

  METHODS.set('openPrimaryTab', function (a, from) {
    var id = this.ws.openPrimaryTab({id: optStr(a.id), url: a.url, title: optStr(a.tabLabel), name: optStr(a.name),
      focus: a.active === true, base: base(from)});
    return {success: true, resultId: id};
  });

  function openSubtab(self, primaryId, a, from) {
    return {success: true, resultId: self.ws.openSubtab(primaryId, {id: optStr(a.id), url: a.url, title: optStr(a.tabLabel),
      name: optStr(a.name), focus: a.active === true, base: base(from)})};
  }

  METHODS.set('openSubtab', function (a, from) { return openSubtab(this, this._primary(a.primaryTabId).id, a, from); });

  METHODS.set('openSubtabByPrimaryTabName', function (a, from) {
    return openSubtab(this, this._byName(a.primaryTabName), a, from);
  });

  METHODS.set('getEnclosingTabId', function (a, from) {
    var e = this._enclosing(from);
    return e ? {success: true, resultId: e.subtab} : {success: false, resultId: null, error: NOT_IN_TAB};
  });

  METHODS.set('getEnclosingPrimaryTabId', function (a, from) {
    var e = this._enclosing(from);
    return e ? {success: true, resultId: e.primary} : {success: false, resultId: null, error: NOT_IN_TAB};
  });

  METHODS.set('getEnclosingPrimaryTabObjectId', function (a, from) {
    var e = this._enclosing(from);
    return e ? {success: true, resultId: this.ws.tab(e.primary).objectId} : {success: false, resultId: null, error: NOT_IN_TAB};
  });

  METHODS.set('getFocusedPrimaryTabId', function () { return {success: true, resultId: this.ws.getFocused().primaryId}; });
  METHODS.set('getFocusedSubtabId', function () { return {success: true, resultId: this.ws.getFocused().subtabId}; });

  METHODS.set('getFocusedPrimaryTabObjectId', function () {
    var id = this.ws.getFocused().primaryId;
    return {success: true, resultId: id ? this.ws.tab(id).objectId : null};
  });

  METHODS.set('getFocusedSubtabObjectId', function () {
    var id = this.ws.getFocused().subtabId;
    return {success: true, resultId: id ? this.ws.tab(id).objectId : null};
  });

  METHODS.set('getPrimaryTabIds', function () {
    return {success: true, ids: this.ws.tabs().map(function (p) { return p.id; })};
  });

  // No primary tab ID: the enclosing one, or (from a side slot) the focused one.
  METHODS.set('getSubtabIds', function (a, from) {
    var id = a.primaryTabId;
    if (id === undefined || id === null) {
      var e = this._enclosing(from);
      id = e ? e.primary : this.ws.getFocused().primaryId;
      if (!id) return {success: false, ids: [], error: 'no primary tab is open'};
    }
    var primary = this._primary(id);
    var tabs = this.ws.tabs().filter(function (p) { return p.id === primary.id; })[0];
    return {success: true, ids: tabs.subtabs.map(function (s) { return s.id; })};
  });

  // No tab ID: the enclosing tab; a side slot's component has to name one (as in the original).
  METHODS.set('getPageInfo', function (a, from) {
    var id = a.tabId;
    if (id === undefined || id === null) {
      var e = this._enclosing(from);
      if (!e) return {success: false, pageInfo: null, error: NOT_IN_TAB + ': pass a tab ID'};
      id = e.subtab;
    }
    var tab = isStr(id) ? this.ws.tab(id) : null;
    if (!tab) throw new Error('no open tab has the ID ' + JSON.stringify(String(id)).slice(0, 80));
    // The fields the original documents; what ctikit cannot know is "" (code reads
    // info.objectId.substring(0, 3) without checking).
    return {success: true, pageInfo: JSON.stringify({url: tab.url, objectId: tab.objectId || '',
      objectName: tab.title, object: '', displayName: ''})};
  });

  METHODS.set('focusPrimaryTabById', function (a) { this.ws.focusTab(this._primary(a.id).id); return {success: true}; });
  METHODS.set('focusPrimaryTabByName', function (a) { this.ws.focusTab(this._byName(a.name)); return {success: true}; });
  METHODS.set('focusSubtabById', function (a) { this.ws.focusTab(this._subtab(a.id).id); return {success: true}; });

  METHODS.set('focusSubtabByNameAndPrimaryTabId', function (a) {
    this.ws.focusTab(this._subtabByName(this._primary(a.primaryTabId).id, a.name));
    return {success: true};
  });

  METHODS.set('focusSubtabByNameAndPrimaryTabName', function (a) {
    this.ws.focusTab(this._subtabByName(this._byName(a.primaryTabName), a.name));
    return {success: true};
  });

  METHODS.set('closeTab', function (a) {
    if (!isStr(a.id) || !this.ws.tab(a.id)) throw new Error('no open tab has the ID ' + JSON.stringify(String(a.id)).slice(0, 80));
    this.ws.closeTab(a.id);
    return {success: true};
  });

  // No tab ID: the enclosing tab (a primary tab's first subtab titles the primary tab too).
  METHODS.set('setTabTitle', function (a, from) {
    var id = a.tabId;
    if (id === undefined || id === null) {
      var e = this._enclosing(from);
      if (!e) throw new Error(NOT_IN_TAB + ': pass a tab ID');
      id = e.subtab;
      var primary = this.ws.tabs().filter(function (p) { return p.id === e.primary; })[0];
      if (primary.subtabs[0].id === id) this.ws.setTitle(e.primary, a.title);
    }
    if (!isStr(id) || !this.ws.tab(id)) throw new Error('no open tab has the ID ' + JSON.stringify(String(id)).slice(0, 80));
    this.ws.setTitle(id, a.title);
    return {success: true};
  });

  // A primary tab's refresh reloads every page in it; the original cannot reload external
  // pages, and every page in a ctikit tab is one (docs/compatibility.md).
  TabApi.prototype._refresh = function (tabId, active) {
    var self = this;
    var tab = this.ws.tab(tabId);
    var pages = tab.primary
      ? this.ws.tabs().filter(function (p) { return p.id === tab.id; })[0].subtabs.map(function (s) { return s.id; })
      : [tab.id];
    pages.forEach(function (id) { self.refreshed.add(id); self.ws.refreshTab(id); });
    if (active === true) this.ws.focusTab(tabId);
    return {success: true};
  };

  METHODS.set('refreshPrimaryTabById', function (a) { return this._refresh(this._primary(a.id).id, a.active); });
  METHODS.set('refreshPrimaryTabByName', function (a) { return this._refresh(this._byName(a.name), a.active); });
  METHODS.set('refreshSubtabById', function (a) { return this._refresh(this._subtab(a.id).id, a.active); });

  METHODS.set('refreshSubtabByNameAndPrimaryTabId', function (a) {
    return this._refresh(this._subtabByName(this._primary(a.primaryTabId).id, a.name), a.active);
  });

  METHODS.set('refreshSubtabByNameAndPrimaryTabName', function (a) {
    return this._refresh(this._subtabByName(this._byName(a.primaryTabName), a.name), a.active);
  });

  // ------------------------------------------------------------------ events

  TabApi.prototype._focusChanged = function (f) {
    var last = this.last;
    this.last = {primaryId: f.primaryId, subtabId: f.subtabId};
    var ws = this.ws;
    // To every component, in a tab or not; none when the last tab closes (no tab has focus).
    if (f.primaryId && f.primaryId !== last.primaryId) {
      this.bridge.post('focusedPrimaryTab', {id: f.primaryId, objectId: ws.tab(f.primaryId).objectId});
    }
    if (f.subtabId && f.subtabId !== last.subtabId) {
      this.bridge.post('focusedSubtab', {id: f.subtabId, objectId: ws.tab(f.subtabId).objectId});
    }
  };

  TabApi.prototype._ready = function (info) {
    if (!info || !info.tabId || !this.refreshed.has(info.tabId)) return;
    this.refreshed.delete(info.tabId);
    var tab = this.ws.tab(info.tabId);
    if (!tab) return;
    this.bridge.post('tabRefresh', {id: tab.id, objectId: tab.objectId}, function (c) { return c.tabId === tab.id; });
  };

  TabApi.METHODS = METHODS;
  C.TabApi = TabApi;
})(window);
