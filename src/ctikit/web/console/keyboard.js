/*
 * ctikit agent console: the keyboard. Global shortcuts for answer, hang up, hold, mute and
 * dial ([console] shortcut_* in the config; docs/console.md), listed under the dial pad's
 * "Shortcuts" button and on each button (aria-keyshortcuts).
 *
 * A shortcut is matched by the key's place on the keyboard (KeyboardEvent.code), so it works
 * on any layout; "Alt+Shift+A" is Alt, Shift and the A key. Keys pressed inside a component
 * (an iframe of another site) go to that page, not to the console.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var doc = global.document;
  var ACTIONS = [
    ['answer', 'Answer the ringing call'],
    ['hangup', 'Hang up'],
    ['hold', 'Hold, or take back the held call'],
    ['mute', 'Mute or unmute'],
    ['dial', 'Go to the number to dial']
  ];
  var MODIFIERS = ['Ctrl', 'Alt', 'Shift', 'Meta'];

  /** 'Alt+Shift+A' -> {ctrl, alt, shift, meta, code: 'KeyA'}; null for '' or nonsense. */
  function parse(text) {
    if (typeof text !== 'string' || !text) return null;
    var parts = text.split('+');
    var key = parts.pop();
    var out = {ctrl: false, alt: false, shift: false, meta: false, code: null, text: text};
    for (var i = 0; i < parts.length; i++) {
      if (MODIFIERS.indexOf(parts[i]) < 0) return null;
      out[parts[i].toLowerCase()] = true;
    }
    if (/^[A-Z]$/.test(key)) out.code = 'Key' + key;
    else if (/^[0-9]$/.test(key)) out.code = 'Digit' + key;
    else if (/^F([1-9]|1[0-2])$/.test(key)) out.code = key;
    else return null;
    return out;
  }

  function matches(s, ev) {
    return ev.code === s.code && ev.ctrlKey === s.ctrl && ev.altKey === s.alt &&
      ev.shiftKey === s.shift && ev.metaKey === s.meta;
  }

  function Keyboard(opts) {
    var self = this;
    this.softphone = opts.softphone;
    this.list = opts.list;         // <dl> the shortcuts are listed in
    this.toggle = opts.toggle;     // the "Shortcuts" button
    this.panel = opts.panel;       // the list's popover
    this.shortcuts = new Map();    // action -> parsed shortcut
    this.readOnly = false;
    this.configure({
      answer: 'Alt+Shift+A', hangup: 'Alt+Shift+H', hold: 'Alt+Shift+O', mute: 'Alt+Shift+M', dial: 'Alt+Shift+D'
    });
    doc.addEventListener('keydown', function (ev) { self._key(ev); }, true);
    this.toggle.addEventListener('click', function () { self._show(self.panel.hidden); });
    doc.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Escape' || self.panel.hidden) return;
      var inside = self.panel.contains(doc.activeElement);
      self._show(false);
      if (inside) self.toggle.focus();
    });
  }

  /** The config's [console] shortcuts: {answer, hangup, hold, mute, dial} ('' = none). */
  Keyboard.prototype.configure = function (shortcuts) {
    var self = this;
    if (!shortcuts || typeof shortcuts !== 'object') return;
    ACTIONS.forEach(function (a) {
      var text = C.own(shortcuts, a[0]);
      if (typeof text !== 'string') return;
      var parsed = parse(text);
      if (parsed) self.shortcuts.set(a[0], parsed); else self.shortcuts.delete(a[0]);
    });
    this._list();
    this.softphone.setShortcuts(this.shortcuts);
  };

  Keyboard.prototype.setReadOnly = function () { this.readOnly = true; };

  Keyboard.prototype._key = function (ev) {
    if (this.readOnly || ev.repeat) return;
    var self = this;
    this.shortcuts.forEach(function (s, action) {
      if (!matches(s, ev)) return;
      ev.preventDefault();
      ev.stopPropagation();
      self.softphone.shortcut(action);
    });
  };

  Keyboard.prototype._list = function () {
    var list = this.list;
    var shortcuts = this.shortcuts;
    C.clear(list);
    ACTIONS.forEach(function (a) {
      var s = shortcuts.get(a[0]);
      list.appendChild(h('div', {className: 'shortcut', 'data-testid': 'shortcut-' + a[0]},
        h('dt', null, h('kbd', {text: s ? s.text : 'none'})),
        h('dd', {text: a[1]})));
    });
  };

  Keyboard.prototype._show = function (open) {
    this.panel.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
  };

  Keyboard.parse = parse;
  C.Keyboard = Keyboard;
})(window);
