/*
 * ctikit agent console: the workspace's tabs as data (no DOM). workspace.js shows them.
 *
 * As in the Salesforce console, a primary tab holds one or more subtabs and the first subtab
 * is the primary tab's own page: opening a primary tab opens it with its first subtab,
 * closing that first subtab closes the primary tab, and getSubtabIds lists it. IDs are the
 * original's form ("scc-pt-N", "scc-st-N") and never reused within a console page.
 *
 * Tab IDs, names and titles come from components: they are data, kept in arrays and Maps,
 * never used as property names.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  // A component opening tabs in a loop cannot exhaust the page: each page is an iframe.
  var MAX_PRIMARY = 30;
  var MAX_SUBTABS = 20;        // per primary tab
  var MAX_PAGES = 60;          // subtabs in all (a primary tab's own page is one)
  var MAX_TITLE = 200;         // characters shown; longer titles are cut
  var MAX_NAME = 255;
  var DEFAULT_TITLE = 'External Page'; // what the original shows for a tab without a label

  function TabError(message) { var e = new Error(message); e.name = 'TabError'; return e; }

  /** A title as plain text: a string, control characters out, trimmed and cut. */
  function cleanTitle(title) {
    if (title === undefined || title === null || title === '') return null;
    if (typeof title !== 'string') throw TabError('the title must be a string');
    // eslint-disable-next-line no-control-regex
    var text = title.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    return text === '' ? null : text.slice(0, MAX_TITLE);
  }

  function cleanName(name) {
    if (name === undefined || name === null || name === '') return null;
    if (typeof name !== 'string' || name.length > MAX_NAME) throw TabError('the name must be a string of at most ' + MAX_NAME + ' characters');
    return name;
  }

  function cleanObjectId(id) {
    return typeof id === 'string' && id !== '' && id.length <= MAX_NAME ? id : null;
  }

  /**
   * The open tabs. `changes(fn)`: fn(kind, tab) after each change, kind one of
   * open, close, title, navigate, focus.
   */
  function TabSet() {
    this.primaries = [];       // {id, name, title, subtabs: [subtab], focusedSubtab}
    this.focusedPrimary = null; // primary tab ID
    this.counters = {pt: 0, st: 0};
    this._fns = [];
  }

  TabSet.MAX_PRIMARY = MAX_PRIMARY;
  TabSet.MAX_SUBTABS = MAX_SUBTABS;
  TabSet.MAX_PAGES = MAX_PAGES;
  TabSet.DEFAULT_TITLE = DEFAULT_TITLE;
  TabSet.TabError = TabError;
  TabSet.cleanTitle = cleanTitle;

  TabSet.prototype.changes = function (fn) { this._fns.push(fn); };

  TabSet.prototype._emit = function (kind, tab) {
    for (var i = 0; i < this._fns.length; i++) {
      try { this._fns[i](kind, tab); } catch (e) { console.error('ctikit console: tab listener failed', e); }
    }
  };

  /** {primary, subtab} for a primary or subtab ID (subtab null for a primary), or null. */
  TabSet.prototype.find = function (id) {
    if (typeof id !== 'string') return null;
    for (var i = 0; i < this.primaries.length; i++) {
      var p = this.primaries[i];
      if (p.id === id) return {primary: p, subtab: null};
      for (var j = 0; j < p.subtabs.length; j++) {
        if (p.subtabs[j].id === id) return {primary: p, subtab: p.subtabs[j]};
      }
    }
    return null;
  };

  TabSet.prototype.primaryByName = function (name) {
    if (typeof name !== 'string' || name === '') return null;
    for (var i = 0; i < this.primaries.length; i++) if (this.primaries[i].name === name) return this.primaries[i];
    return null;
  };

  TabSet.prototype.subtabByName = function (primary, name) {
    if (typeof name !== 'string' || name === '') return null;
    for (var i = 0; i < primary.subtabs.length; i++) if (primary.subtabs[i].name === name) return primary.subtabs[i];
    return null;
  };

  /** The primary tab's page: its first subtab. */
  TabSet.prototype.mainSubtab = function (primary) { return primary.subtabs[0]; };

  /** The subtab a tab ID shows: the subtab itself, or the primary's focused subtab. */
  TabSet.prototype.shownSubtab = function (found) {
    if (found.subtab) return found.subtab;
    var p = found.primary;
    return this._subtab(p, p.focusedSubtab) || p.subtabs[0];
  };

  TabSet.prototype._subtab = function (primary, id) {
    for (var i = 0; i < primary.subtabs.length; i++) if (primary.subtabs[i].id === id) return primary.subtabs[i];
    return null;
  };

  /** A new primary tab with its first subtab: {url (already checked), title, name, objectId}. */
  TabSet.prototype.pages = function () {
    return this.primaries.reduce(function (n, p) { return n + p.subtabs.length; }, 0);
  };

  TabSet.prototype._room = function () {
    if (this.pages() >= MAX_PAGES) throw TabError('too many tabs open (' + MAX_PAGES + ' pages): close some first');
  };

  TabSet.prototype.openPrimary = function (opts) {
    if (this.primaries.length >= MAX_PRIMARY) {
      throw TabError('too many primary tabs open (' + MAX_PRIMARY + '): close some first');
    }
    this._room();
    var title = cleanTitle(opts.title);
    var primary = {id: 'scc-pt-' + this.counters.pt++, name: cleanName(opts.name), title: title || DEFAULT_TITLE,
      subtabs: [], focusedSubtab: null};
    var first = this._newSubtab(primary, {url: opts.url, title: title, objectId: opts.objectId});
    primary.subtabs.push(first);
    primary.focusedSubtab = first.id;
    this.primaries.push(primary);
    this._emit('open', primary);
    return primary;
  };

  /** A new subtab at the end of `primary`: {url, title, name, objectId}. */
  TabSet.prototype.openSubtab = function (primary, opts) {
    if (primary.subtabs.length >= MAX_SUBTABS) {
      throw TabError('too many subtabs open in ' + primary.id + ' (' + MAX_SUBTABS + '): close some first');
    }
    this._room();
    var subtab = this._newSubtab(primary, opts);
    subtab.name = cleanName(opts.name);
    primary.subtabs.push(subtab);
    this._emit('open', subtab);
    return subtab;
  };

  TabSet.prototype._newSubtab = function (primary, opts) {
    return {id: 'scc-st-' + this.counters.st++, primaryId: primary.id, name: null,
      title: cleanTitle(opts.title) || DEFAULT_TITLE, url: opts.url, objectId: cleanObjectId(opts.objectId)};
  };

  /** Show another URL in an open tab (a primary tab's URL is its first subtab's). */
  TabSet.prototype.navigate = function (found, opts) {
    var subtab = found.subtab || found.primary.subtabs[0];
    subtab.url = opts.url;
    subtab.objectId = cleanObjectId(opts.objectId);
    var title = cleanTitle(opts.title);
    if (title) this.setTitle(found, title);
    this._emit('navigate', subtab);
    return subtab;
  };

  /** Set the title of a primary tab or subtab; '' or null puts back the default. */
  TabSet.prototype.setTitle = function (found, title) {
    var tab = found.subtab || found.primary;
    tab.title = cleanTitle(title) || DEFAULT_TITLE;
    this._emit('title', tab);
  };

  /** Focus a tab: a subtab focuses its primary tab too. Returns whether focus moved. */
  TabSet.prototype.focus = function (found) {
    var moved = this.focusedPrimary !== found.primary.id;
    this.focusedPrimary = found.primary.id;
    if (found.subtab && found.primary.focusedSubtab !== found.subtab.id) {
      found.primary.focusedSubtab = found.subtab.id;
      moved = true;
    }
    if (moved) this._emit('focus', found.subtab || found.primary);
    return moved;
  };

  /**
   * Close a tab: a primary tab with its subtabs; the first subtab closes its primary tab.
   * Focus goes to the neighbour (the next tab, else the one before). Returns the closed tabs.
   */
  TabSet.prototype.close = function (found) {
    var p = found.primary;
    if (!found.subtab || found.subtab === p.subtabs[0]) {
      var at = this.primaries.indexOf(p);
      this.primaries.splice(at, 1);
      if (this.focusedPrimary === p.id) {
        var next = this.primaries[at] || this.primaries[at - 1] || null;
        this.focusedPrimary = next ? next.id : null;
      }
      this._emit('close', p);
      return [p].concat(p.subtabs);
    }
    var i = p.subtabs.indexOf(found.subtab);
    p.subtabs.splice(i, 1);
    if (p.focusedSubtab === found.subtab.id) p.focusedSubtab = (p.subtabs[i] || p.subtabs[i - 1]).id;
    this._emit('close', found.subtab);
    return [found.subtab];
  };

  /** {primaryId, subtabId} of the focused tabs (both null when no tab is open). */
  TabSet.prototype.focused = function () {
    var found = this.find(this.focusedPrimary);
    if (!found) return {primaryId: null, subtabId: null};
    return {primaryId: found.primary.id, subtabId: this.shownSubtab(found).id};
  };

  /** A copy of the tabs, for the console's other parts and for sessionStorage. */
  TabSet.prototype.snapshot = function () {
    var self = this;
    return {
      counters: {pt: this.counters.pt, st: this.counters.st},
      focusedPrimary: this.focusedPrimary,
      primaries: this.primaries.map(function (p) {
        return {
          id: p.id, name: p.name, title: p.title, focusedSubtab: p.focusedSubtab,
          focused: self.focusedPrimary === p.id,
          subtabs: p.subtabs.map(function (s) {
            return {id: s.id, name: s.name, title: s.title, url: s.url, objectId: s.objectId};
          })
        };
      })
    };
  };

  /** Take back a snapshot (after a reload); `urlOk(url)` says which URLs may still open. */
  TabSet.prototype.restore = function (snap, urlOk) {
    if (!snap || typeof snap !== 'object' || !Array.isArray(snap.primaries)) return;
    var counters = snap.counters || {};
    var pt = Number.isInteger(counters.pt) && counters.pt >= 0 ? counters.pt : 0;
    var st = Number.isInteger(counters.st) && counters.st >= 0 ? counters.st : 0;
    var idOk = /^scc-(pt|st)-\d{1,9}$/;
    var self = this;
    snap.primaries.slice(0, MAX_PRIMARY).forEach(function (p) {
      if (!p || typeof p.id !== 'string' || !idOk.test(p.id) || !Array.isArray(p.subtabs) || self.find(p.id)) return;
      var room = Math.min(MAX_SUBTABS, MAX_PAGES - self.pages());
      var subtabs = p.subtabs.slice(0, room).filter(function (s) {
        return s && typeof s.id === 'string' && idOk.test(s.id) && typeof s.url === 'string' && urlOk(s.url) && !self.find(s.id);
      }).map(function (s) {
        var name = null;
        try { name = cleanName(s.name); } catch (e) { /* dropped */ }
        var title = null;
        try { title = cleanTitle(s.title); } catch (e) { /* default */ }
        return {id: s.id, primaryId: p.id, name: name, title: title || DEFAULT_TITLE, url: s.url, objectId: cleanObjectId(s.objectId)};
      });
      if (!subtabs.length || subtabs[0].id !== (p.subtabs[0] && p.subtabs[0].id)) return; // its page is gone
      var primary = {id: p.id, name: null, title: DEFAULT_TITLE, subtabs: subtabs, focusedSubtab: subtabs[0].id};
      try { primary.name = cleanName(p.name); } catch (e) { /* dropped */ }
      try { primary.title = cleanTitle(p.title) || DEFAULT_TITLE; } catch (e) { /* default */ }
      if (subtabs.some(function (s) { return s.id === p.focusedSubtab; })) primary.focusedSubtab = p.focusedSubtab;
      self.primaries.push(primary);
    });
    // New IDs continue after every restored one, so an old ID never names a new tab.
    this.primaries.forEach(function (p) {
      pt = Math.max(pt, Number(p.id.slice(7)) + 1);
      p.subtabs.forEach(function (s) { st = Math.max(st, Number(s.id.slice(7)) + 1); });
    });
    this.counters = {pt: pt, st: st};
    var focused = this.find(snap.focusedPrimary);
    this.focusedPrimary = focused && !focused.subtab ? focused.primary.id : (this.primaries[0] ? this.primaries[0].id : null);
  };

  C.TabSet = TabSet;
})(window);
