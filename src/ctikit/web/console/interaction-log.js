/*
 * ctikit console: the interaction log (call notes).
 *
 * The "attach call" list shows active calls and recently ended ones (wrap-up), by label.
 * The form follows the call the agent is on (focusCall): the connected call, else the newest
 * other active one, else the call just ended. It moves only while the form is empty, so
 * notes being written stay with their call; "Notes for ..." above it always names the call.
 * Save sends op saveCallLog {callId, subject, comments, disposition}; the server stores the
 * call log and fires onCallLogSaved in every component. An empty log for a call that already
 * has one is refused (here at once, and by the server).
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var OTHER = '__other__';
  var DEFAULT_DISPOSITIONS = ['Resolved', 'Follow-up needed', 'Escalated', 'Wrong number', 'No answer'];

  /** The call the notes are most likely about: connected, else newest active, else just ended. */
  function focusCall(store) {
    var calls = store.calls;
    for (var i = calls.length - 1; i >= 0; i--) if (calls[i].lineState === 'connected') return calls[i];
    if (calls.length) return calls[calls.length - 1];
    return store.recent.length ? store.recent[store.recent.length - 1] : null;
  }

  function InteractionLog(opts) {
    var self = this;
    var root = opts.root;
    this.store = opts.store;
    this.conn = opts.conn;
    this.form = root.querySelector('#log-form');
    this.select = root.querySelector('#log-call');
    this.hint = root.querySelector('#log-call-hint');
    this.subject = root.querySelector('#log-subject');
    this.comments = root.querySelector('#log-comments');
    this.disposition = root.querySelector('#log-disposition');
    this.otherField = root.querySelector('#log-disposition-other-field');
    this.other = root.querySelector('#log-disposition-other');
    this.saveButton = root.querySelector('#log-save');
    this.savedMsg = root.querySelector('#log-saved');
    this.errorMsg = root.querySelector('#log-error');
    this.savedBox = root.querySelector('#saved-logs-box');
    this.savedList = root.querySelector('#saved-logs');
    this.selected = null;     // call ID
    this.followed = null;     // ID of the focus call last followed
    this.forCall = root.querySelector('#log-for');
    this.signature = null;    // of the option list last rendered
    this.logged = new Map();  // call ID -> [log IDs saved from this console]
    this.readOnly = false;    // a supervisor watching: nothing can be saved

    this.select.addEventListener('change', function () {
      self.selected = self.select.value || null;
      self._renderHint();
    });
    this.setDispositions(DEFAULT_DISPOSITIONS, true);
    this.disposition.addEventListener('change', function () {
      self.otherField.hidden = self.disposition.value !== OTHER;
      if (!self.otherField.hidden) self.other.focus();
    });
    this.form.addEventListener('submit', function (ev) { ev.preventDefault(); self.save(); });
    this.render(this.store);
  }

  /** The dispositions offered (the config's [console].dispositions), and "Other…" or not. */
  InteractionLog.prototype.setDispositions = function (list, other) {
    var sel = this.disposition;
    while (sel.options.length > 1) sel.remove(1);
    (Array.isArray(list) ? list : []).forEach(function (d) {
      if (typeof d === 'string' && d) sel.appendChild(h('option', {value: d, text: d}));
    });
    if (other) sel.appendChild(h('option', {value: OTHER, text: 'Other…'}));
    sel.value = '';
    this.otherField.hidden = true;
  };

  /** Whether the agent has written or chosen anything in the form. */
  InteractionLog.prototype.isEmpty = function () {
    return !this.subject.value.trim() && !this.comments.value.trim() && !this.disposition.value;
  };

  /** A supervisor watching: the log shows, nothing can be saved. */
  InteractionLog.prototype.setReadOnly = function () {
    this.readOnly = true;
    Array.prototype.forEach.call(this.form.querySelectorAll('input, select, textarea, button'),
      function (el) { el.disabled = true; });
    this.render(this.store);
  };

  /** Active calls (arrival order), then ended ones (newest first). */
  InteractionLog.prototype.choices = function (store) {
    var list = [];
    var seen = new Set();
    store.calls.forEach(function (c) { seen.add(c.id); list.push({call: c, active: true}); });
    for (var i = store.recent.length - 1; i >= 0; i--) {
      var c = store.recent[i];
      if (seen.has(c.id)) continue;
      seen.add(c.id);
      list.push({call: c, active: false});
    }
    return list;
  };

  InteractionLog.prototype._optionText = function (choice) {
    var call = choice.call;
    var text = C.callTitle(call);
    if (choice.active) return text + ' — active';
    return text + ' — ended ' + C.formatClock(call.endedAt);
  };

  InteractionLog.prototype.render = function (store) {
    var self = this;
    var choices = this.choices(store);
    var texts = choices.map(function (ch) { return ch.call.id + '\u0000' + self._optionText(ch) + (self.logged.has(ch.call.id) ? '*' : ''); });
    var ids = choices.map(function (ch) { return ch.call.id; });
    var focus = focusCall(store);
    var focusId = focus ? focus.id : null;
    if (focusId !== this.followed) {
      this.followed = focusId;
      // Move with the agent, but never carry notes being written to another call.
      if (focusId && (this.isEmpty() || !this.selected)) this.selected = focusId;
    }
    if (!this.selected || ids.indexOf(this.selected) < 0) {
      this.selected = focusId || (ids.length ? ids[0] : null);
    }
    var signature = texts.join('\u0001') + '|' + this.selected;
    if (signature !== this.signature) {
      this.signature = signature;
      var sel = this.select;
      while (sel.firstChild) sel.removeChild(sel.firstChild);
      if (!choices.length) {
        sel.appendChild(h('option', {value: '', text: 'No calls to log yet'}));
      }
      var activeGroup = null, endedGroup = null;
      choices.forEach(function (ch) {
        var opt = h('option', {value: ch.call.id, text: self._optionText(ch) + (self.logged.has(ch.call.id) ? ' ✓' : '')});
        if (ch.active) {
          if (!activeGroup) activeGroup = sel.appendChild(h('optgroup', {label: 'Active calls'}));
          activeGroup.appendChild(opt);
        } else {
          if (!endedGroup) endedGroup = sel.appendChild(h('optgroup', {label: 'Ended calls (wrap-up)'}));
          endedGroup.appendChild(opt);
        }
      });
      sel.value = this.selected || '';
      sel.disabled = !choices.length;
    }
    this.saveButton.disabled = !this.selected || this.saving || this.readOnly;
    this._renderHint();
  };

  InteractionLog.prototype._findCall = function (id) {
    return this.store.find(id) || this.store.findRecent(id);
  };

  InteractionLog.prototype._renderHint = function () {
    var call = this.selected ? this._findCall(this.selected) : null;
    this.forCall.textContent = call
      ? 'Notes for ' + C.callTitle(call) + (call.endedAt ? ' (ended)' : ' (' + (C.stateText(call.lineState) || 'active').toLowerCase() + ')')
      : 'No call to write notes for';
    if (!call) { this.hint.textContent = 'Calls appear here when they begin; ended calls stay for wrap-up.'; return; }
    var parts = [C.typeText(call.type) || call.type];
    var num = C.displayNumber(call);
    if (num) parts.push(num);
    if (call.endedAt) {
      var dur = call.duration !== null && call.duration !== undefined ? Number(call.duration) : (call.endedAt - call.startedAt);
      parts.push('lasted ' + C.formatDuration(dur));
    } else {
      parts.push('started ' + C.formatClock(call.startedAt));
    }
    if (this.logged.has(call.id)) parts.push('logged as ' + this.logged.get(call.id).join(', '));
    // The number is its own element: a dial target while an Open CTI softphone has
    // click-to-dial on (opencti-panel.js), for ended calls too (call back in wrap-up).
    var hint = this.hint;
    while (hint.firstChild) hint.removeChild(hint.firstChild);
    parts.forEach(function (part, i) {
      if (i) hint.appendChild(document.createTextNode(' · '));
      if (num && part === num && i === 1) {
        var el = h('span', {className: 'log-number', 'data-testid': 'log-call-number', text: num});
        el.dataset.dialNumber = C.callNumber(call); // the number itself, not as shown
        if (C.clickToDial) C.clickToDial.mark(el);
        hint.appendChild(el);
      } else {
        hint.appendChild(document.createTextNode(part));
      }
    });
  };

  InteractionLog.prototype.save = function () {
    var self = this;
    this.errorMsg.hidden = true;
    this.savedMsg.hidden = true;
    var callId = this.selected;
    if (!callId) { this._error('Select the call these notes are about.'); return; }
    var disposition = this.disposition.value === OTHER ? this.other.value.trim() : this.disposition.value;
    var fields = {callId: callId};
    var subject = this.subject.value.trim();
    var comments = this.comments.value;
    if (subject) fields.subject = subject;
    if (comments.trim()) fields.comments = comments;
    if (disposition) fields.disposition = disposition;
    if (!subject && !comments.trim() && !disposition && this.logged.has(callId)) {
      this._error('This call already has a log: write a note or choose a disposition to add another.');
      return;
    }
    if (this.conn.status !== 'connected') {
      this._error('Not saved: the console is not connected to the server. Your notes are still here; save again when it says Connected.');
      return;
    }
    this.saving = true;
    this.saveButton.disabled = true;
    this.saveButton.textContent = 'Saving…';
    this.conn.request('saveCallLog', fields).then(function (resp) {
      self.saving = false;
      self.saveButton.textContent = 'Save call log';
      self.saveButton.disabled = !self.selected || self.readOnly;
      if (!resp.success) { self._error('Not saved: ' + C.agentWords(resp.error) + '.'); return; }
      var logId = resp.logId === undefined || resp.logId === null ? '?' : String(resp.logId);
      if (!self.logged.has(callId)) self.logged.set(callId, []);
      self.logged.get(callId).push(logId);
      self.savedMsg.textContent = '';
      self.savedMsg.appendChild(document.createTextNode('Saved (log ID '));
      self.savedMsg.appendChild(h('span', {'data-testid': 'log-saved-id', className: 'mono', text: logId}));
      self.savedMsg.appendChild(document.createTextNode(')'));
      self.savedMsg.hidden = false;
      var call = self._findCall(callId);
      self.savedList.insertBefore(h('li', {'data-testid': 'saved-log'},
        h('span', {className: 'mono', text: logId}), ' ',
        h('span', {className: 'muted', text: (call ? C.callTitle(call) : callId) + (subject ? ' — ' + subject : '')})),
        self.savedList.firstChild);
      self.savedBox.hidden = false;
      self.subject.value = '';
      self.comments.value = '';
      self.disposition.value = '';
      self.other.value = '';
      self.otherField.hidden = true;
      self.signature = null;
      self.render(self.store); // the call stays selected ("logged as"); it follows the next change
    });
  };

  InteractionLog.prototype._error = function (text) {
    this.errorMsg.textContent = text;
    this.errorMsg.hidden = false;
  };

  C.InteractionLog = InteractionLog;
})(window);
