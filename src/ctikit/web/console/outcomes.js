/*
 * ctikit agent console: what became of calls, said in words. A transfer's outcome (done, or
 * failed and why), a call that failed, and a missed call: an incoming call that ended without
 * being answered. Missed calls are also listed (from the server's recent calls, so the list
 * survives a reload), each with Call back, which dials the caller.
 *
 * Notices about one call share a key, so the event and the reply to the agent's own command
 * (which say the same thing) show once.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var SHOWN_MS = 8000; // a success fades; a failure or a missed call stays until dismissed

  function isMissed(call) {
    return !!call && call.type !== 'OUTBOUND' && !call.answeredAt && !!call.endedAt &&
      call.disposition !== 'transferred' && !!call.lineState;
  }

  function Outcomes(opts) {
    this.store = opts.store;
    this.notices = opts.notices;
    this.dial = opts.dial;          // dial(number) -> Promise of the reply
    this.focusCallTo = opts.focusCallTo || null; // after a call back: the focus to the new call
    this.list = opts.list;          // <ul> of missed calls
    this.box = opts.box;            // its section (hidden when empty)
    this.count = opts.count || null;
    this.cleared = new Set();       // missed calls the agent dealt with (this page)
    this.readOnly = false;
    this.signature = null;
  }

  Outcomes.prototype.setReadOnly = function () { this.readOnly = true; this.signature = null; };

  /** A transfer the agent asked for: its outcome, from the reply. */
  Outcomes.prototype.transferred = function (call, number, resp) {
    var who = call ? C.callTitle(call) : 'the call';
    if (resp.success) {
      this.notices.show('info', 'Transferred ' + who + ' to ' + number + '.',
        {key: 'call:' + (call ? call.id : number), testid: 'transfer-done', timeoutMs: SHOWN_MS});
    } else {
      this.notices.show('error', 'Transfer to ' + number + ' failed: ' + C.agentWords(resp.error) + '. The caller is still with you.',
        {key: 'call:' + (call ? call.id : number), testid: 'transfer-failed'});
    }
  };

  /** Each event: failures, transfers and missed calls as they happen. */
  Outcomes.prototype.event = function (frame) {
    var data = frame.data || {};
    if (frame.event === 'callFailed') {
      var number = data.number ? String(data.number) : '';
      var active = typeof data.id === 'string' ? this.store.find(data.id) : null;
      // A number other than the call's own: a transfer of that call failed.
      var transfer = !!active && !!number && C.callNumber(active) !== number;
      var what = transfer ? 'Transfer to ' + number : number ? 'Call to ' + number : 'The call';
      this.notices.show('error', what + ' failed: ' + C.agentWords(data.reason) + '.',
        {key: 'call:' + (transfer ? data.id : number || data.id), testid: transfer ? 'transfer-failed' : 'call-failed'});
      return;
    }
    if (frame.event !== 'callEnd') return;
    var call = data.call && typeof data.call.id === 'string' ? data.call : null;
    if (!call) return;
    if (data.disposition === 'transferred') {
      var to = /^transferred to (.+)$/.exec(String(data.reason || ''));
      this.notices.show('info', 'Transferred ' + C.callTitle(call) + (to ? ' to ' + to[1] : '') + '.',
        {key: 'call:' + call.id, testid: 'transfer-done', timeoutMs: SHOWN_MS});
      return;
    }
    var ended = Object.assign({}, call, {endedAt: call.endedAt || frame.at || 1, disposition: data.disposition});
    if (isMissed(ended)) {
      this.notices.show('warning', 'Missed call from ' + C.callTitle(call) + '.',
        {key: 'missed:' + call.id, testid: 'missed-call'});
    }
  };

  /** The missed-calls list, newest first. */
  Outcomes.prototype.render = function (store) {
    var self = this;
    var missed = [];
    for (var i = store.recent.length - 1; i >= 0; i--) {
      var c = store.recent[i];
      if (isMissed(c) && !this.cleared.has(c.id)) missed.push(c);
    }
    var signature = missed.map(function (c) { return c.id + '\u0001' + C.callTitle(c); }).join('\u0000') +
      (this.readOnly ? '|ro' : '');
    if (signature === this.signature) return;
    this.signature = signature;
    C.clear(this.list);
    missed.forEach(function (call) { self.list.appendChild(self._item(call)); });
    this.box.hidden = missed.length === 0;
    if (this.count) this.count.textContent = String(missed.length);
  };

  Outcomes.prototype._item = function (call) {
    var self = this;
    var number = C.callNumber(call);
    var back = h('button', {
      type: 'button', className: 'btn btn-sm btn-call', 'data-testid': 'call-back', text: 'Call back',
      'aria-label': 'Call back ' + C.callTitle(call), disabled: this.readOnly || !number
    });
    var clear = h('button', {
      type: 'button', className: 'btn btn-sm btn-ghost', 'data-testid': 'missed-clear', text: 'Clear',
      'aria-label': 'Clear the missed call from ' + C.callTitle(call), disabled: this.readOnly
    });
    back.addEventListener('click', function () {
      back.disabled = true;
      self.dial(number).then(function (resp) {
        back.disabled = false;
        if (!resp.success) return;
        // The item goes under the agent's focus: on to the call just placed.
        var hadFocus = back === document.activeElement || document.activeElement === document.body;
        self._clear(call.id);
        if (hadFocus && self.focusCallTo) self.focusCallTo(number);
      });
    });
    clear.addEventListener('click', function () { self._clear(call.id); });
    return h('li', {className: 'missed-item', 'data-testid': 'missed-' + call.id},
      h('span', {className: 'missed-who'},
        h('span', {className: 'line-number', text: C.callTitle(call)}),
        h('span', {className: 'muted', text: ' · ' + C.formatClock(call.startedAt)})),
      h('span', {className: 'missed-actions'}, back, clear));
  };

  Outcomes.prototype._clear = function (id) {
    this.cleared.add(id);
    this.notices.dismiss('missed:' + id);
    this.render(this.store);
  };

  Outcomes.isMissed = isMissed;
  C.Outcomes = Outcomes;
})(window);
