/*
 * ctikit agent console: the workspace. Primary tabs and subtabs (tabs.js holds them as data)
 * showing pages in iframes, with a keyboard-accessible tab strip (ARIA tablist / tab /
 * tabpanel: arrow keys, Home and End move between tabs, Delete closes one).
 *
 * The rest of the console uses it as CtikitConsole.workspace (docs/workspace.md):
 *
 *   var id = workspace.openPrimaryTab({url, title, focus, name, objectId});
 *   var sub = workspace.openSubtab(id, {url, title, focus, name, objectId});
 *   workspace.focusTab(sub); workspace.setTitle(id, 'Acme'); workspace.closeTab(id);
 *   workspace.getFocused()      // {primaryId, subtabId}
 *   workspace.tabs()            // [{id, name, title, focused, subtabs: [{id, name, title, url, objectId}]}]
 *   workspace.onFocusChange(function (f) { f.primaryId, f.subtabId, f.url, f.title, f.objectId });
 *
 * Methods that change tabs throw an Error with a one-line message for a URL that may not be
 * opened, an unknown tab ID or too many tabs; they never half-do it.
 *
 * Which URLs open: http(s) only (never javascript:, data: or blob:), at this console's own
 * origin, a configured component's origin, or an origin in [workspace] allowed_origins.
 * Pages load like components: the bridge gives each its nonce, so a page in a tab can use
 * integration.js, and knows the tab it is in. Tabs belong to this browser tab's console page
 * and are kept in sessionStorage: a reload (or a failover) reopens them, a new browser tab
 * starts empty.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var TabSet = C.TabSet;
  var STORAGE_PREFIX = 'ctikit.workspace.';

  /** opts: {root, bridge, agent}. The tab strip and panels go inside root. */
  function Workspace(opts) {
    this.root = opts.root;
    this.bridge = opts.bridge || null;
    this.storageKey = STORAGE_PREFIX + (opts.agent || '');
    this.set = new TabSet();
    this.origins = new Set([global.location.origin]);
    this.views = new Map();     // tab ID -> {tab, close, panel, frame?, list?}
    this._focusFns = [];
    this._last = {primaryId: null, subtabId: null, url: null};
    this._build();
    var self = this;
    this.set.changes(function (kind, tab) { self._changed(kind, tab); });
  }

  Workspace.prototype._build = function () {
    var self = this;
    this.strip = h('div', {role: 'tablist', className: 'tablist tablist-primary', 'aria-label': 'Open tabs',
      'data-testid': 'primary-tabs', onkeydown: function (ev) { self._key(ev, null); }});
    this.empty = h('p', {className: 'tabs-empty', 'data-testid': 'tabs-empty',
      text: 'No tabs open. Screen pops and components open pages here.'});
    this.panels = h('div', {className: 'tab-panels'});
    this.root.appendChild(this.strip);
    this.root.appendChild(this.empty);
    this.root.appendChild(this.panels);
  };

  // ------------------------------------------------------------------ configuration

  /** The origins tabs may show: the components' and the configured ones; then reopen the kept tabs. */
  Workspace.prototype.configure = function (cfg) {
    var self = this;
    (cfg.components || []).concat((cfg.allowedOrigins || []).map(function (o) { return {url: o}; }))
      .forEach(function (c) {
        try { if (c && typeof c.url === 'string') self.origins.add(new URL(c.url, global.location.href).origin); }
        catch (e) { /* a bad entry opens nothing */ }
      });
    this._restore();
  };

  /** The absolute URL for `url` (relative to `base`), or an Error saying why it may not open. */
  Workspace.prototype.checkUrl = function (url, base) {
    if (typeof url !== 'string' || url.trim() === '') throw new Error('the URL must be a non-empty string');
    var parsed;
    try { parsed = new URL(url.trim(), base || global.location.href); }
    catch (e) { throw new Error('not a URL: ' + JSON.stringify(url.slice(0, 80))); }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new Error('only http(s) pages open in tabs, not ' + parsed.protocol + ' URLs');
    }
    if (!this.origins.has(parsed.origin)) {
      throw new Error(parsed.origin + ' is not an allowed origin for tabs (add it to [workspace] allowed_origins)');
    }
    return parsed.href;
  };

  // ------------------------------------------------------------------ the API

  Workspace.prototype._need = function (id) {
    var found = this.set.find(id);
    if (!found) throw new Error('no open tab has the ID ' + JSON.stringify(String(id)).slice(0, 80));
    return found;
  };

  /** Open a primary tab, or with {id} show the URL in that open primary tab. Returns its ID. */
  Workspace.prototype.openPrimaryTab = function (opts) {
    opts = opts || {};
    var url = this.checkUrl(opts.url, opts.base);
    var primary;
    if (opts.id !== undefined && opts.id !== null) {
      var found = this._need(opts.id);
      if (found.subtab) throw new Error(opts.id + ' is a subtab, not a primary tab');
      primary = found.primary;
      this.set.navigate(found, {url: url, title: opts.title, objectId: opts.objectId});
    } else {
      primary = this.set.openPrimary({url: url, title: opts.title, name: opts.name, objectId: opts.objectId});
    }
    if (opts.focus !== false || !this.set.focusedPrimary) this.set.focus({primary: primary, subtab: null});
    this._settled();
    return primary.id;
  };

  /** Open a subtab in a primary tab, or with {id} show the URL in that subtab. Returns its ID. */
  Workspace.prototype.openSubtab = function (primaryId, opts) {
    opts = opts || {};
    var found = this._need(primaryId);
    if (found.subtab) throw new Error(primaryId + ' is a subtab, not a primary tab');
    var url = this.checkUrl(opts.url, opts.base);
    var subtab;
    if (opts.id !== undefined && opts.id !== null) {
      var target = this._need(opts.id);
      if (!target.subtab || target.primary !== found.primary) throw new Error(opts.id + ' is not a subtab of ' + primaryId);
      subtab = this.set.navigate(target, {url: url, title: opts.title, objectId: opts.objectId});
    } else {
      subtab = this.set.openSubtab(found.primary, {url: url, title: opts.title, name: opts.name, objectId: opts.objectId});
    }
    if (opts.focus !== false) this.set.focus({primary: found.primary, subtab: subtab});
    this._settled();
    return subtab.id;
  };

  Workspace.prototype.focusTab = function (id) {
    this.set.focus(this._need(id));
    this._settled();
  };

  Workspace.prototype.closeTab = function (id) {
    var closed = this.set.close(this._need(id));
    var self = this;
    closed.forEach(function (tab) { self._drop(tab.id); });
    this._settled();
  };

  Workspace.prototype.setTitle = function (id, title) {
    this.set.setTitle(this._need(id), title);
    this._save();
  };

  /** Load the page again: a primary tab's own page (its first subtab), or the subtab. */
  Workspace.prototype.refreshTab = function (id) {
    var found = this._need(id);
    var subtab = found.subtab || this.set.mainSubtab(found.primary);
    this._load(subtab);
    return subtab.id;
  };

  Workspace.prototype.getFocused = function () { return this.set.focused(); };

  /** What is open, as a copy. */
  Workspace.prototype.tabs = function () { return this.set.snapshot().primaries; };

  /**
   * One tab: {id, primaryId, primary (bool), name, title, url, objectId}; a primary tab's url
   * and objectId are those of its page (first subtab). Null for an unknown ID.
   */
  Workspace.prototype.tab = function (id) {
    var found = this.set.find(id);
    if (!found) return null;
    var page = found.subtab || this.set.mainSubtab(found.primary);
    var tab = found.subtab || found.primary;
    return {id: tab.id, primaryId: found.primary.id, primary: !found.subtab, name: tab.name,
      title: tab.title, url: page.url, objectId: page.objectId};
  };

  /** The primary tab with this name (the first, if several), or null. */
  Workspace.prototype.primaryByName = function (name) {
    var p = this.set.primaryByName(name);
    return p ? p.id : null;
  };

  /** The subtab named `name` in a primary tab, or null. */
  Workspace.prototype.subtabByName = function (primaryId, name) {
    var found = this.set.find(primaryId);
    if (!found || found.subtab) return null;
    var s = this.set.subtabByName(found.primary, name);
    return s ? s.id : null;
  };

  /**
   * fn({primaryId, subtabId, url, title, objectId}) whenever the focused primary tab or
   * subtab changes, or the focused subtab shows another page (all null: no tab open).
   * Returns a function that removes the listener.
   */
  Workspace.prototype.onFocusChange = function (fn) {
    var fns = this._focusFns;
    fns.push(fn);
    return function () { var i = fns.indexOf(fn); if (i >= 0) fns.splice(i, 1); };
  };

  // ------------------------------------------------------------------ after each change

  Workspace.prototype._settled = function () {
    this._save();
    var f = this.set.focused();
    var shown = f.subtabId ? this.set.find(f.subtabId) : null;
    var info = {primaryId: f.primaryId, subtabId: f.subtabId, url: null, title: null, objectId: null};
    if (shown) {
      info.url = shown.subtab.url;
      info.title = shown.primary.title;
      info.objectId = this.set.mainSubtab(shown.primary).objectId;
    }
    this._show(f);
    var last = this._last;
    if (last.primaryId === info.primaryId && last.subtabId === info.subtabId && last.url === info.url) return;
    this._last = {primaryId: info.primaryId, subtabId: info.subtabId, url: info.url};
    this._focusFns.slice().forEach(function (fn) {
      try { fn(Object.assign({}, info)); } catch (e) { console.error('ctikit console: focus listener failed', e); }
    });
  };

  Workspace.prototype._save = function () {
    try { global.sessionStorage.setItem(this.storageKey, JSON.stringify(this.set.snapshot())); }
    catch (e) { /* storage full or off: tabs just do not survive a reload */ }
  };

  Workspace.prototype._restore = function () {
    var raw = null;
    try { raw = global.sessionStorage.getItem(this.storageKey); } catch (e) { return; }
    if (!raw || this.set.primaries.length) return;
    var self = this;
    try {
      this.set.restore(JSON.parse(raw), function (url) {
        try { return self.checkUrl(url) === url; } catch (e) { return false; }
      });
    } catch (e) { console.warn('ctikit console: could not reopen the kept tabs', e); }
    this.set.primaries.forEach(function (p) {
      self._changed('open', p);
      p.subtabs.slice(1).forEach(function (s) { self._changed('open', s); });
    });
    this._settled();
  };

  // ------------------------------------------------------------------ the view

  Workspace.prototype._changed = function (kind, tab) {
    if (kind === 'open') this._add(tab);
    else if (kind === 'title') this._title(tab);
    else if (kind === 'navigate') this._load(tab);
  };

  Workspace.prototype._add = function (tab) {
    var self = this;
    var isPrimary = !tab.primaryId;
    var label = h('span', {className: 'tab-label', text: tab.title});
    var el = h('button', {type: 'button', role: 'tab', id: 'tab-' + tab.id, className: 'tab',
      'aria-selected': 'false', tabindex: '-1', 'aria-controls': 'panel-' + tab.id,
      'aria-keyshortcuts': 'Delete', 'data-testid': 'tab-' + tab.id, 'data-tab-id': tab.id, title: tab.title,
      onclick: function () { self._userFocus(tab.id); }}, label);
    // Only tabs belong in a tablist: the × is for the mouse, hidden from assistive
    // technology and out of the Tab order; the keyboard closes a tab with Delete.
    var close = h('button', {type: 'button', className: 'tab-close', tabindex: '-1', 'aria-hidden': 'true',
      title: 'Close (Delete)', 'data-testid': 'close-' + tab.id, text: '×',
      onclick: function () { self._userClose(tab.id); }});
    var item = h('div', {className: 'tab-item', role: 'presentation'}, el, close);
    var panel = h('div', {role: 'tabpanel', id: 'panel-' + tab.id, className: 'tab-panel', 'aria-labelledby': 'tab-' + tab.id,
      'data-testid': 'panel-' + tab.id, hidden: true});
    var view = {item: item, tab: el, label: label, close: close, panel: panel};
    this.views.set(tab.id, view);
    if (isPrimary) {
      view.list = h('div', {role: 'tablist', className: 'tablist tablist-sub', 'aria-label': 'Subtabs of ' + tab.title,
        'data-testid': 'subtabs-' + tab.id, onkeydown: function (ev) { self._key(ev, tab.id); }});
      panel.appendChild(view.list);
      this.strip.appendChild(item);
      this.panels.appendChild(panel);
      tab.subtabs.slice(0, 1).forEach(function (s) { self._add(s); });
    } else {
      var owner = this.views.get(tab.primaryId);
      owner.list.appendChild(item);
      owner.panel.appendChild(panel);
      view.frame = h('iframe', {className: 'tab-frame', title: tab.title, 'data-testid': 'frame-' + tab.id,
        referrerpolicy: 'strict-origin-when-cross-origin'});
      panel.appendChild(view.frame);
      this._load(tab);
    }
    this.empty.hidden = true;
  };

  Workspace.prototype._load = function (subtab) {
    var view = this.views.get(subtab.id);
    if (!view || !view.frame) return;
    var loaded = false;
    if (this.bridge) {
      try { loaded = this.bridge.addComponent(view.frame, subtab.url, {tabId: subtab.id}); }
      catch (e) { console.error('ctikit console: the bridge refused a tab page', e); }
    }
    if (!loaded) view.frame.src = subtab.url; // no bridge: the page shows, without the API
  };

  Workspace.prototype._title = function (tab) {
    var view = this.views.get(tab.id);
    if (!view) return;
    view.label.textContent = tab.title;
    view.tab.title = tab.title;
    if (view.list) view.list.setAttribute('aria-label', 'Subtabs of ' + tab.title);
    if (view.frame) view.frame.title = tab.title;
  };

  Workspace.prototype._drop = function (id) {
    var view = this.views.get(id);
    if (!view) return;
    if (view.frame && this.bridge) this.bridge.removeComponent(view.frame);
    if (view.frame) view.frame.src = 'about:blank'; // stop it before it goes (timers, sockets)
    view.item.remove();
    view.panel.remove();
    this.views.delete(id);
    this.empty.hidden = this.set.primaries.length > 0;
  };

  /** Selected tabs, roving tabindex, visible panels. */
  Workspace.prototype._show = function (focused) {
    var self = this;
    this.set.primaries.forEach(function (p) {
      var on = p.id === focused.primaryId;
      self._select(p.id, on);
      p.subtabs.forEach(function (s) { self._select(s.id, s.id === p.focusedSubtab); });
    });
  };

  Workspace.prototype._select = function (id, selected) {
    var view = this.views.get(id);
    if (!view) return;
    view.tab.setAttribute('aria-selected', selected ? 'true' : 'false');
    view.tab.tabIndex = selected ? 0 : -1; // Tab reaches the selected tab; arrows the others
    view.item.classList.toggle('is-selected', selected);
    view.panel.hidden = !selected;
  };

  // ------------------------------------------------------------------ the agent's hands

  Workspace.prototype._userFocus = function (id) {
    if (!this.set.find(id)) return;
    this.focusTab(id);
    var view = this.views.get(id);
    if (view) view.tab.focus();
  };

  Workspace.prototype._userClose = function (id) {
    var found = this.set.find(id);
    if (!found) return;
    var hadFocus = this.root.contains(global.document.activeElement);
    // Keyboard focus stays in the same strip, on the tab selected there now.
    var inSubtabs = found.subtab && found.subtab !== found.primary.subtabs[0] ? found.primary : null;
    this.closeTab(id);
    var next = inSubtabs ? inSubtabs.focusedSubtab : this.set.focused().primaryId;
    var view = next ? this.views.get(next) : null;
    if (hadFocus && view) view.tab.focus();
  };

  /** Arrow keys, Home and End move along a tablist (selecting as they go); Delete closes. */
  Workspace.prototype._key = function (ev, primaryId) {
    var id = ev.target && ev.target.getAttribute && ev.target.getAttribute('data-tab-id');
    if (!id || ev.target.getAttribute('role') !== 'tab') return;
    var found = this.set.find(id);
    if (!found) return;
    var list = primaryId ? found.primary.subtabs : this.set.primaries;
    var at = list.indexOf(primaryId ? found.subtab : found.primary);
    if (at < 0) return;
    var to = null;
    if (ev.key === 'ArrowRight') to = list[(at + 1) % list.length];
    else if (ev.key === 'ArrowLeft') to = list[(at - 1 + list.length) % list.length];
    else if (ev.key === 'Home') to = list[0];
    else if (ev.key === 'End') to = list[list.length - 1];
    else if (ev.key === 'Delete') { ev.preventDefault(); ev.stopPropagation(); this._userClose(id); return; }
    else return;
    ev.preventDefault();
    ev.stopPropagation(); // a subtab strip sits inside the primary tab's panel
    this._userFocus(to.id);
  };

  C.Workspace = Workspace;
})(window);
