/*
 * ctikit console: the softphone footer (one row per active call, and a dial pad).
 *
 * Every button sends a CTI command text through the `sendCTIMessage` op, exactly as a
 * component's sforce.console.cti.sendCTIMessage would, so components' onSendCTIMessage
 * handlers see what the agent does. Rows are keyed by call ID and updated in place from the
 * store on every change (so an open transfer field or keypad survives events).
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var doc = global.document;
  var KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];

  /** Build a CTI command text: /NAME?KEY=value&... with URL-encoded values. */
  function ctiCommand(name, params) {
    var parts = [];
    for (var i = 0; i < params.length; i++) {
      if (params[i][1] === undefined || params[i][1] === null) continue;
      parts.push(params[i][0] + '=' + encodeURIComponent(String(params[i][1])));
    }
    return '/' + name + (parts.length ? '?' + parts.join('&') : '');
  }

  function Softphone(opts) {
    this.store = opts.store;
    this.conn = opts.conn;
    this.notices = opts.notices;
    this.linesRoot = opts.linesRoot;
    this.noCalls = opts.noCalls;
    this.rows = new Map();   // call ID -> row object
    this.announcer = opts.announcer || null;
    this.dialForm = opts.dialForm;
    this.transferTargets = opts.transferTargets || null;
    this.dialInput = opts.dialInput;
    this.shortcuts = null;
    this._initDialpad(opts);
  }

  /** The directory: every other agent is offered as a transfer target. */
  Softphone.prototype.setDirectory = function (agents, ownId) {
    if (!Array.isArray(agents) || !this.transferTargets) return;
    var targets = this.transferTargets;
    agents.forEach(function (a) {
      if (!a || typeof a.id !== 'string' || a.id === ownId) return;
      targets.appendChild(h('option', {value: a.extension || a.id, label: (a.name || a.id) + (a.extension ? ' (' + a.id + ')' : '')}));
    });
  };

  /** A supervisor watching: calls show, nothing can be dialled or changed. */
  Softphone.prototype.setReadOnly = function () {
    Array.prototype.forEach.call(this.dialForm.querySelectorAll('input, button'), function (el) { el.disabled = true; });
  };

  /**
   * Send a command; a failure is shown in words, under `key` (a call's notices share one).
   * `tell(resp)`, if given, says the outcome instead (a transfer's, success or not).
   */
  Softphone.prototype.send = function (message, what, opts) {
    var self = this;
    opts = opts || {};
    if (this.conn.status !== 'connected') {
      // Refused now: queued, it would happen whenever the server is back, unasked for.
      var down = {success: false, error: 'not connected'};
      if (opts.tell) opts.tell(down);
      else {
        this.notices.show('error', (what || 'That') + ' was not done: the console is not connected to the server. ' +
          'Try again when it says Connected.', {testid: 'softphone-error', key: opts.key});
      }
      return Promise.resolve(down);
    }
    return this.conn.request('sendCTIMessage', {message: message}).then(function (resp) {
      if (opts.tell) opts.tell(resp);
      // (A failure the telephony reported was said by its event, just before this reply.)
      else if (!resp.success && !(opts.key && self.notices.recent(opts.key, 3000))) {
        self.notices.show('error', (what || 'That') + ' failed: ' + C.agentWords(resp.error) + '.',
          {testid: 'softphone-error', key: opts.key});
      }
      return resp;
    });
  };

  /** Dial a number (the dial pad, a missed call's Call back); resolves the reply. */
  Softphone.prototype.dial = function (number) {
    var clean = String(number || '').replace(/[\s()\-.]/g, '');
    return this.send(ctiCommand('DIAL', [['NUMBER', clean]]), 'Calling ' + number, {key: 'call:' + clean});
  };

  // ---- dial pad --------------------------------------------------------------------------
  Softphone.prototype._initDialpad = function (opts) {
    var self = this;
    var input = opts.dialInput;
    var keypad = opts.dialKeypad;
    var toggle = opts.dialKeypadToggle;
    var button = opts.dialForm.querySelector('[data-testid="dial-button"]');
    KEYS.forEach(function (k) {
      keypad.appendChild(h('button', {
        type: 'button', className: 'key', 'data-testid': 'dial-key-' + k, 'aria-label': 'Key ' + k, text: k,
        onclick: function () { input.value += k; input.focus(); }
      }));
    });
    toggle.addEventListener('click', function () {
      keypad.hidden = !keypad.hidden;
      toggle.setAttribute('aria-expanded', String(!keypad.hidden));
    });
    opts.dialForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var number = input.value.trim();
      if (!number) { input.focus(); return; }
      button.disabled = true;
      self.dial(number).then(function (resp) {
        button.disabled = false;
        if (resp.success) { input.value = ''; keypad.hidden = true; toggle.setAttribute('aria-expanded', 'false'); }
      });
    });
  };

  // ---- lines -----------------------------------------------------------------------------
  Softphone.prototype.render = function (store) {
    var self = this;
    var calls = store.calls;
    var seen = new Set();
    var prev = this.noCalls; // rows follow it, in arrival order
    for (var i = 0; i < calls.length; i++) {
      var call = calls[i];
      seen.add(call.id);
      var row = this.rows.get(call.id);
      if (!row) { row = this._createRow(call.id); this.rows.set(call.id, row); }
      // Moved only when out of place: moving a row would take the focus from its buttons.
      if (row.el.previousElementSibling !== prev || row.el.parentNode !== this.linesRoot) {
        this.linesRoot.insertBefore(row.el, prev.nextSibling);
      }
      this._updateRow(row, call);
      prev = row.el;
    }
    var lostFocus = false;
    this.rows.forEach(function (gone, id) {
      if (seen.has(id)) return;
      if (gone.call) self._announce('Call ended: ' + C.callTitle(gone.call));
      if (gone.el.contains(doc.activeElement)) lostFocus = true;
      if (gone.el.parentNode) gone.el.parentNode.removeChild(gone.el);
      self.rows.delete(id);
    });
    if (lostFocus) { // the call ended under the agent's focus: the next call, else the dial pad
      var next = this.linesRoot.querySelector('.line-actions button:not([hidden])');
      (next || this.dialInput).focus();
    }
    this.noCalls.hidden = calls.length > 0;
    this.tick();
  };

  /**
   * The focus to the Hang up of the call just placed to `number` (its events may follow the
   * reply: looked for again for up to two seconds, while the focus is nowhere), else the
   * number to dial.
   */
  Softphone.prototype.focusCallTo = function (number, tries) {
    var self = this;
    tries = tries || 0;
    if (doc.activeElement !== doc.body) return;
    var target = null;
    this.rows.forEach(function (row) {
      if (row.call && C.callNumber(row.call) === number && !row.buttons.hangup.hidden) target = row.buttons.hangup;
    });
    if (!target && tries < 20) { setTimeout(function () { self.focusCallTo(number, tries + 1); }, 100); return; }
    (target || this.dialInput).focus();
  };

  Softphone.prototype.tick = function () {
    var now = this.store.now();
    this.rows.forEach(function (row) {
      var call = row.call;
      if (!call) return;
      var since = call.startedAt, title = 'Time since the call began';
      if (call.lineState === 'held' && call.heldAt) { since = call.heldAt; title = 'Time on hold'; }
      else if ((call.lineState === 'connected' || call.lineState === 'held') && call.answeredAt) {
        since = call.answeredAt; title = 'Time since answered';
      }
      row.timer.textContent = C.formatDuration(now - (since || now));
      row.timer.title = title;
      row.timer.setAttribute('aria-label', title + ': ' + row.timer.textContent);
      // A ringing row pulses with the live timers: one change a second. A CSS animation
      // redrew it every frame (bench/RESULTS.md, "WebRTC consoles").
      row.el.classList.toggle('ring-on', call.lineState === 'ringing' && Math.floor(now) % 2 === 0);
    });
  };

  Softphone.prototype._createRow = function (callId) {
    var self = this;
    var row = {id: callId, call: null, busy: false};
    function btn(key, text, cls, onClick) {
      var b = h('button', {type: 'button', className: 'btn btn-sm ' + cls, 'data-testid': 'btn-' + key, text: text});
      b.addEventListener('click', function () {
        if (row.busy) return; // aria-disabled, not disabled: a disabled button loses the focus
        // Where the focus goes once this button is gone (Answer -> Hang up...), if it was here.
        row.pressed = {key: key, hadFocus: doc.activeElement === b || doc.activeElement === doc.body};
        onClick(b);
      });
      return b;
    }
    function cmd(name, what, extra, tell) {
      return function () {
        var params = (extra ? extra() : []).concat([['CALL_ID', row.id]]);
        row.busy = true;
        self._updateRow(row, row.call);
        var call = row.call;
        return self.send(ctiCommand(name, params), what, {key: 'call:' + row.id, tell: tell && function (resp) {
          tell(call, params, resp);
        }}).then(function (resp) {
          row.busy = false;
          if (row.call) self._updateRow(row, row.call);
          return resp;
        });
      };
    }

    row.state = h('span', {className: 'pill line-state', 'data-testid': 'line-state'});
    row.muted = h('span', {className: 'pill pill-muted', 'data-testid': 'line-muted', text: 'Muted', hidden: true});
    row.number = h('span', {className: 'line-number', 'data-testid': 'line-number'});
    row.label = h('span', {className: 'line-label', 'data-testid': 'line-label'});
    row.type = h('span', {className: 'line-type', 'data-testid': 'line-type'});
    row.timer = h('span', {className: 'line-timer', 'data-testid': 'line-timer', role: 'timer', 'aria-live': 'off'});

    row.buttons = {
      answer: btn('answer', 'Answer', 'btn-call', cmd('ANSWER', 'Answer')),
      hold: btn('hold', 'Hold', 'btn-secondary', cmd('HOLD', 'Hold')),
      retrieve: btn('retrieve', 'Retrieve', 'btn-secondary', cmd('RETRIEVE', 'Retrieve')),
      mute: btn('mute', 'Mute', 'btn-secondary', cmd('MUTE', 'Mute')),
      unmute: btn('unmute', 'Unmute', 'btn-secondary', cmd('UNMUTE', 'Unmute')),
      transfer: btn('transfer', 'Transfer…', 'btn-secondary', function () { togglePanel('transfer'); }),
      keypad: btn('keypad', 'Keypad', 'btn-secondary', function () { togglePanel('keypad'); }),
      hangup: btn('hangup', 'Hang up', 'btn-danger', cmd('HANGUP', 'Hang up'))
    };

    // Transfer panel: asks the number, then sends /TRANSFER?NUMBER=n&CALL_ID=id.
    row.transferInput = h('input', {
      type: 'tel', className: 'input-sm', 'data-testid': 'transfer-input', placeholder: 'Transfer to number',
      'aria-label': 'Transfer to number', maxlength: '64', autocomplete: 'off', list: 'transfer-targets'
    });
    var doTransfer = cmd('TRANSFER', 'Transfer', function () {
      return [['NUMBER', row.transferInput.value.replace(/[\s()\-.]/g, '')]];
    }, function (call, params, resp) {
      if (self.outcomes) self.outcomes.transferred(call, params[0][1], resp);
    });
    row.transferPanel = h('form', {className: 'line-panel', 'data-testid': 'transfer-panel', hidden: true},
      row.transferInput,
      h('button', {type: 'submit', className: 'btn btn-sm btn-primary', 'data-testid': 'transfer-confirm', text: 'Transfer'}),
      h('button', {type: 'button', className: 'btn btn-sm btn-ghost', 'data-testid': 'transfer-cancel', text: 'Cancel',
        onclick: function () { togglePanel(null); }}));
    row.transferPanel.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (!row.transferInput.value.trim()) { row.transferInput.focus(); return; }
      doTransfer().then(function (resp) {
        if (resp.success) { row.transferInput.value = ''; togglePanel(null); }
      });
    });

    // DTMF keypad: each key sends /DTMF?DIGITS=d&CALL_ID=id.
    row.sentDigits = h('span', {className: 'sent-digits', 'data-testid': 'dtmf-sent', 'aria-live': 'polite'});
    row.keypadPanel = h('div', {className: 'line-panel keypad keypad-inline', 'data-testid': 'dtmf-keypad', hidden: true});
    KEYS.forEach(function (k) {
      row.keypadPanel.appendChild(h('button', {
        type: 'button', className: 'key', 'data-testid': 'dtmf-' + k, 'aria-label': 'Send tone ' + k, text: k,
        onclick: function () {
          self.send(ctiCommand('DTMF', [['DIGITS', k], ['CALL_ID', row.id]]), 'Tone ' + k).then(function (resp) {
            if (resp.success) row.sentDigits.textContent = (row.sentDigits.textContent + k).slice(-24);
          });
        }
      }));
    });
    row.keypadPanel.appendChild(row.sentDigits);

    row.panel = null;
    function togglePanel(which) {
      row.panel = row.panel === which ? null : which;
      self._updateRow(row, row.call);
      if (row.panel === 'transfer') row.transferInput.focus();
    }

    var b = row.buttons;
    var cb = (row.consult = C.Consult.create(self, row, cmd)).buttons;
    row.el = h('div', {className: 'line', 'data-testid': 'line-' + callId, role: 'group'},
      h('div', {className: 'line-main'},
        h('div', {className: 'line-status'}, row.state, row.muted),
        h('div', {className: 'line-who'}, row.number, row.label, row.consult.tag),
        row.type,
        row.timer,
        h('div', {className: 'line-actions'},
          b.answer, b.hold, b.retrieve, b.mute, b.unmute, b.transfer,
          cb.consult, cb.complete, cb.cancel, cb.conference, b.keypad, b.hangup)),
      row.transferPanel,
      row.consult.panel,
      row.keypadPanel);
    row.el.dataset.callId = callId;
    this._labelShortcuts(row);
    return row;
  };

  Softphone.prototype._announce = function (text) {
    if (!this.announcer) return;
    this.announcer.textContent = '';
    var el = this.announcer;
    setTimeout(function () { el.textContent = text; }, 50);
  };

  Softphone.prototype._updateRow = function (row, call) {
    if (!call) return;
    row.call = call;
    var state = call.lineState || 'component';
    var announced = state + (call.muted ? ' muted' : '');
    if (row.announced !== announced) {
      row.announced = announced;
      var who = C.callTitle(call);
      this._announce(state === 'ringing' ? 'Incoming call from ' + who
        : (C.stateText(state) || 'Call') + ': ' + who + (call.muted ? ', muted' : ''));
    }
    var el = row.el;
    el.dataset.state = state;
    el.dataset.muted = call.muted ? 'true' : 'false';
    el.classList.toggle('is-ringing', state === 'ringing');
    var number = C.callNumber(call);
    var shown = C.formatNumber(number);
    row.state.textContent = C.stateText(state) || 'In progress';
    row.state.className = 'pill line-state state-' + state;
    row.muted.hidden = !call.muted;
    row.number.textContent = shown || call.id;
    // A dial target while an Open CTI softphone has click-to-dial on (opencti-panel.js).
    if (number) row.number.dataset.dialNumber = number; else delete row.number.dataset.dialNumber;
    if (C.clickToDial) C.clickToDial.mark(row.number);
    row.label.textContent = call.label && call.label !== number && call.label !== shown ? call.label : '';
    row.type.textContent = C.typeText(call.type);
    el.setAttribute('aria-label', (C.stateText(state) || 'Call') + ' ' + (shown || call.id));

    var b = row.buttons;
    var controlled = !!call.lineState;
    var show = {
      answer: state === 'ringing',
      hold: state === 'connected',
      retrieve: state === 'held',
      mute: state === 'connected' && !call.muted,
      unmute: state === 'connected' && call.muted,
      transfer: state === 'connected' || state === 'held',
      keypad: state === 'connected',
      hangup: controlled
    };
    for (var k in b) {
      b[k].hidden = !show[k];
      b[k].setAttribute('aria-disabled', String(row.busy));
    }
    this._keepFocus(row, show);
    b.transfer.setAttribute('aria-expanded', String(row.panel === 'transfer'));
    b.keypad.setAttribute('aria-expanded', String(row.panel === 'keypad'));
    b.transfer.classList.toggle('is-active', row.panel === 'transfer');
    b.keypad.classList.toggle('is-active', row.panel === 'keypad');
    if (row.panel === 'transfer' && !show.transfer) row.panel = null;
    if (row.panel === 'keypad' && !show.keypad) row.panel = null;
    row.transferPanel.hidden = row.panel !== 'transfer';
    row.keypadPanel.hidden = row.panel !== 'keypad';
    if (!controlled) {
      row.type.textContent = C.typeText(call.type) + ' · managed by a component';
    }
    row.consult.update(call, row.busy);
  };

  // After a button went away, the focus goes to the one the agent most likely wants next.
  var NEXT_FOCUS = new Map([
    ['answer', 'hangup'], ['hold', 'retrieve'], ['retrieve', 'hold'], ['mute', 'unmute'], ['unmute', 'mute']
  ]);

  Softphone.prototype._keepFocus = function (row, show) {
    var pressed = row.pressed;
    if (!pressed || show[pressed.key]) return; // still there (or the command is on its way)
    row.pressed = null;
    var active = doc.activeElement;
    if (!pressed.hadFocus && active && active !== doc.body && active !== row.buttons[pressed.key]) return;
    var next = NEXT_FOCUS.get(pressed.key);
    var target = next && show[next] ? row.buttons[next] : null;
    if (!target) {
      for (var k in row.buttons) if (show[k]) { target = row.buttons[k]; break; }
    }
    if (target) target.focus();
  };

  /** The shortcuts (keyboard.js): shown on the buttons (aria-keyshortcuts). */
  Softphone.prototype.setShortcuts = function (shortcuts) {
    this.shortcuts = shortcuts;
    var input = this.dialInput;
    var dial = shortcuts.get('dial');
    if (dial) input.setAttribute('aria-keyshortcuts', dial.text); else input.removeAttribute('aria-keyshortcuts');
    var self = this;
    this.rows.forEach(function (row) { self._labelShortcuts(row); });
  };

  var SHORTCUT_OF = new Map([
    ['answer', 'answer'], ['hangup', 'hangup'], ['hold', 'hold'], ['retrieve', 'hold'], ['mute', 'mute'], ['unmute', 'mute']
  ]);

  Softphone.prototype._labelShortcuts = function (row) {
    var shortcuts = this.shortcuts;
    if (!shortcuts) return;
    SHORTCUT_OF.forEach(function (action, key) {
      var s = shortcuts.get(action);
      var b = row.buttons[key];
      if (s) { b.setAttribute('aria-keyshortcuts', s.text); b.title = s.text; }
      else { b.removeAttribute('aria-keyshortcuts'); b.removeAttribute('title'); }
    });
  };

  /** The call a shortcut acts on: the first call in the first of `states` that has one. */
  Softphone.prototype._callIn = function (states) {
    var calls = this.store.calls;
    for (var i = 0; i < states.length; i++) {
      for (var j = 0; j < calls.length; j++) if (calls[j].lineState === states[i]) return calls[j];
    }
    return null;
  };

  /** A shortcut: answer | hangup | hold | mute | dial. Says so when there is nothing to do. */
  Softphone.prototype.shortcut = function (action) {
    if (action === 'dial') { this.dialInput.focus(); this.dialInput.select(); return; }
    var call, key;
    if (action === 'answer') { call = this._callIn(['ringing']); key = 'answer'; }
    else if (action === 'hangup') { call = this._callIn(['connected', 'ringing', 'dialing', 'held']); key = 'hangup'; }
    else if (action === 'hold') {
      call = this._callIn(['connected', 'held']);
      key = call && call.lineState === 'held' ? 'retrieve' : 'hold';
    } else if (action === 'mute') {
      call = this._callIn(['connected']);
      key = call && call.muted ? 'unmute' : 'mute';
    }
    var row = call ? this.rows.get(call.id) : null;
    if (!row || row.buttons[key].hidden) {
      var none = new Map([['answer', 'No call is ringing.'], ['hangup', 'No call to hang up.'],
        ['hold', 'No call to hold or take back.'], ['mute', 'No connected call to mute.']]);
      this._announce(none.get(action) || 'Nothing to do.');
      return;
    }
    row.buttons[key].click();
  };

  Softphone.ctiCommand = ctiCommand;
  C.Softphone = Softphone;
})(window);
