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

  Softphone.prototype.send = function (message, what) {
    var self = this;
    return this.conn.request('sendCTIMessage', {message: message}).then(function (resp) {
      if (!resp.success) {
        self.notices.show('error', (what || 'Command') + ' failed: ' + (resp.error || 'unknown error'),
          {testid: 'softphone-error'});
      }
      return resp;
    });
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
      var number = input.value.replace(/[\s()]/g, '');
      if (!number) { input.focus(); return; }
      button.disabled = true;
      self.send(ctiCommand('DIAL', [['NUMBER', number]]), 'Dial ' + number).then(function (resp) {
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
    for (var i = 0; i < calls.length; i++) {
      var call = calls[i];
      seen.add(call.id);
      var row = this.rows.get(call.id);
      if (!row) { row = this._createRow(call.id); this.rows.set(call.id, row); }
      this._updateRow(row, call);
      this.linesRoot.appendChild(row.el); // keeps arrival order
    }
    this.rows.forEach(function (gone, id) {
      if (seen.has(id)) return;
      if (gone.call) self._announce('Call ended: ' + C.callTitle(gone.call));
      if (gone.el.parentNode) gone.el.parentNode.removeChild(gone.el);
      self.rows.delete(id);
    });
    this.noCalls.hidden = calls.length > 0;
    this.tick();
  };

  Softphone.prototype.tick = function () {
    var now = this.store.now();
    this.rows.forEach(function (row) {
      var call = row.call;
      if (!call) return;
      var since = (call.lineState === 'connected' || call.lineState === 'held') && call.answeredAt
        ? call.answeredAt : call.startedAt;
      row.timer.textContent = C.formatDuration(now - (since || now));
      row.timer.title = since === call.answeredAt ? 'Time since answered' : 'Time since the call began';
    });
  };

  Softphone.prototype._createRow = function (callId) {
    var self = this;
    var row = {id: callId, call: null, busy: false};
    function btn(key, text, cls, onClick) {
      var b = h('button', {type: 'button', className: 'btn btn-sm ' + cls, 'data-testid': 'btn-' + key, text: text});
      b.addEventListener('click', function () { onClick(b); });
      return b;
    }
    function cmd(name, what, extra) {
      return function () {
        var params = (extra ? extra() : []).concat([['CALL_ID', row.id]]);
        row.busy = true;
        self._updateRow(row, row.call);
        return self.send(ctiCommand(name, params), what).then(function (resp) {
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
      return [['NUMBER', row.transferInput.value.replace(/[\s()]/g, '')]];
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
        h('div', {className: 'line-status'}, row.state, row.muted, row.consult.tag),
        h('div', {className: 'line-who'}, row.number, row.label),
        row.type,
        row.timer,
        h('div', {className: 'line-actions'},
          b.answer, b.hold, b.retrieve, b.mute, b.unmute, b.transfer,
          cb.consult, cb.complete, cb.cancel, cb.conference, b.keypad, b.hangup)),
      row.transferPanel,
      row.consult.panel,
      row.keypadPanel);
    row.el.dataset.callId = callId;
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
    row.state.textContent = C.stateText(state) || 'In progress';
    row.state.className = 'pill line-state state-' + state;
    row.muted.hidden = !call.muted;
    row.number.textContent = number || call.id;
    // A dial target while an Open CTI softphone has click-to-dial on (opencti-panel.js).
    if (number) row.number.dataset.dialNumber = number; else delete row.number.dataset.dialNumber;
    if (C.clickToDial) C.clickToDial.mark(row.number);
    row.label.textContent = call.label && call.label !== number ? call.label : '';
    row.type.textContent = C.typeText(call.type);
    el.setAttribute('aria-label', (C.stateText(state) || 'Call') + ' ' + (number || call.id));

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
      b[k].disabled = row.busy;
    }
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

  Softphone.ctiCommand = ctiCommand;
  C.Softphone = Softphone;
})(window);
