/*
 * ctikit agent console: notices (dismissable messages under the header) and the banners the
 * console raises by itself: the telephony line is down.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  // A bounded stack over the page (it never pushes the workspace down): the newest at the
  // bottom, the oldest dismissable ones go first.
  var MAX_SHOWN = 3;

  function Notices(root) {
    this.root = root;
    this.keyed = new Map(); // key -> the notice box shown under that key
  }

  /**
   * Show a message; kind: error | warning | info. Options: key (replaces an earlier notice
   * with this key), testid, dismissable (default true), timeoutMs.
   */
  Notices.prototype.show = function (kind, text, opts) {
    opts = opts || {};
    var self = this;
    if (opts.key) this.dismiss(this.keyed.get(opts.key));
    var box = h('div', {
      className: 'notice notice-' + kind, role: kind === 'error' ? 'alert' : 'status',
      'data-testid': opts.testid || ('notice-' + kind)
    });
    box.appendChild(h('span', {className: 'notice-text', 'data-testid': 'notice-text', text: text}));
    if (opts.dismissable !== false) {
      box.appendChild(h('button', {
        type: 'button', className: 'notice-close', 'aria-label': 'Dismiss', title: 'Dismiss',
        'data-testid': 'notice-dismiss', text: '×', onclick: function () { self.dismiss(box); }
      }));
    }
    box.dataset.shownAt = String(Date.now());
    if (opts.key) { box.dataset.key = opts.key; this.keyed.set(opts.key, box); }
    this.root.appendChild(box);
    // Keep the stack short: the oldest go first (a notice that cannot be dismissed stays).
    var all = Array.prototype.filter.call(this.root.querySelectorAll('.notice'), function (n) {
      return n.querySelector('.notice-close');
    });
    var fixed = this.root.querySelectorAll('.notice').length - all.length;
    for (var i = 0; i < all.length - Math.max(1, MAX_SHOWN - fixed); i++) this.dismiss(all[i]);
    if (opts.timeoutMs) setTimeout(function () { self.dismiss(box); }, opts.timeoutMs);
    return box;
  };

  /** Whether a notice with this key was shown in the last `ms` milliseconds (and still is). */
  Notices.prototype.recent = function (key, ms) {
    var box = this.keyed.get(key);
    return !!box && Date.now() - Number(box.dataset.shownAt || 0) <= ms;
  };

  /** Whether a notice with this key is shown. */
  Notices.prototype.has = function (key) { return this.keyed.has(key); };

  /** Remove a notice: its box, or its key. */
  Notices.prototype.dismiss = function (box) {
    if (typeof box === 'string') box = this.keyed.get(box);
    if (!box) return;
    if (box.dataset.key && this.keyed.get(box.dataset.key) === box) this.keyed.delete(box.dataset.key);
    if (box.parentNode) box.parentNode.removeChild(box);
  };

  /** The console's own banners: render(store) after changes, event(frame) for each event. */
  function Banners(notices) { this.notices = notices; }

  Banners.prototype.render = function (store) {
    if (store.lineUp !== false) { this.notices.dismiss('line-down'); return; }
    if (this.notices.has('line-down')) return;
    this.notices.show('warning', 'Telephony line is down' + (store.lineReason ? ': ' + store.lineReason : '') +
      '. Calls cannot be placed or received until it is back.', {key: 'line-down', testid: 'line-down', dismissable: false});
  };

  /** Events: a failed call is said by outcomes.js (with the other outcomes of calls). */
  Banners.prototype.event = function () {};

  C.Notices = Notices;
  C.Banners = Banners;
})(window);
