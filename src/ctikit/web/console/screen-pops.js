/*
 * ctikit agent console: screen pops. When a call rings or is answered, the first matching
 * [[screen_pops]] rule of the config opens a primary tab for it (docs/configuration.md).
 *
 * The server sends each rule's URL and title already split into parts ({text}, {field},
 * {data}; core/screenpops.py has the grammar), so here they are only joined: a value in a
 * URL is URL-encoded, in a title it is text. Each call pops once per console page: the calls
 * popped are kept in sessionStorage, so a reload does not pop them again (their tabs are
 * restored with the others).
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var STORAGE_PREFIX = 'ctikit.popped.';
  var KEEP = 200; // call IDs remembered

  /** opts: {store, workspace, notices, agent}. Rules come later, with the config. */
  function ScreenPops(opts) {
    this.store = opts.store;
    this.ws = opts.workspace;
    this.notices = opts.notices;
    this.key = STORAGE_PREFIX + (opts.agent || '');
    this.rules = [];
    this.popped = this._load();
  }

  /** The rules from the console config's workspace.screenPops. */
  ScreenPops.prototype.configure = function (rules) {
    this.rules = Array.isArray(rules) ? rules.filter(function (r) { return r && Array.isArray(r.url); }) : [];
    this.render(this.store);
  };

  /** After every change of the store (boot.js renders each view): pop what is due. */
  ScreenPops.prototype.render = function (store) {
    if (!this.rules.length) return;
    var self = this;
    store.calls.forEach(function (call) {
      if (self.popped.indexOf(call.id) >= 0) return;
      var rule = self._rule(call);
      if (rule && due(rule, call)) self._pop(rule, call);
    });
  };

  ScreenPops.prototype._rule = function (call) {
    for (var i = 0; i < this.rules.length; i++) {
      var r = this.rules[i];
      if (r.callType === null || r.callType === call.type) return r;
    }
    return null;
  };

  // "ring": as soon as the call is there; "answer": once answered (a call whose line ctikit
  // does not control, begun by a component, is in progress: it counts as answered).
  function due(rule, call) {
    return rule.on === 'ring' || !!call.answeredAt || !call.lineState;
  }

  ScreenPops.prototype._pop = function (rule, call) {
    this._remember(call.id); // once, whatever happens next
    var url = fill(rule.url, call, encodeURIComponent);
    var title = rule.title ? fill(rule.title, call, String) : null;
    try {
      this.ws.openPrimaryTab({url: url, title: title, focus: true, name: 'call-' + call.id});
    } catch (e) {
      this.notices.show('error', 'Screen pop for the call from ' + (call.ani || 'an unknown number') +
        ' could not open: ' + e.message, {testid: 'screen-pop-error'});
    }
  };

  /** A template's parts joined, each value passed through `encode`. */
  function fill(parts, call, encode) {
    return parts.map(function (p) {
      if (typeof p.text === 'string') return p.text;
      var value = typeof p.field === 'string' ? C.own(call, p.field) : C.own(call.data, p.data);
      return encode(asText(value));
    }).join('');
  }

  function asText(value) {
    if (value === undefined || value === null) return '';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  ScreenPops.prototype._load = function () {
    try {
      var list = JSON.parse(global.sessionStorage.getItem(this.key) || '[]');
      return Array.isArray(list) ? list.filter(function (id) { return typeof id === 'string'; }) : [];
    } catch (e) { return []; }
  };

  ScreenPops.prototype._remember = function (id) {
    this.popped.push(id);
    if (this.popped.length > KEEP) this.popped = this.popped.slice(-KEEP);
    try { global.sessionStorage.setItem(this.key, JSON.stringify(this.popped)); } catch (e) { /* not kept */ }
  };

  ScreenPops.fill = fill;
  C.ScreenPops = ScreenPops;
})(window);
