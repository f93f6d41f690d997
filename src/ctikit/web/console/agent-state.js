/*
 * ctikit agent console: the agent-state selector in the header (docs/protocol.md, "Agent
 * state"). Available, Away (one option per configured reason) and Offline are chosen here;
 * after-call work follows an answered call and shows its countdown. The state lives on the
 * server: the hello carries it, `agentState` events change it, and a choice is a
 * `setAgentState` request whose answer (or refusal) the selector shows.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var LABEL = new Map([
    ['available', 'Available'], ['away', 'Away'], ['offline', 'Offline'], ['acw', 'After-call work']
  ]);

  function mmss(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var s = seconds % 60;
    return Math.floor(seconds / 60) + ':' + (s < 10 ? '0' : '') + s;
  }

  /** opts: {conn, root (an element in the header), notices} */
  function AgentStateSelector(opts) {
    var self = this;
    this.conn = opts.conn;
    this.notices = opts.notices;
    this.state = null; // {status, reason, since, acwUntil}
    this.reasons = [];
    this.readOnly = false;
    this.pending = 0; // choices sent so far (the latest one's reply is shown)
    this.select = h('select', {id: 'agent-state', 'data-testid': 'agent-state', 'aria-label': 'Agent state',
      onchange: function () { self.choose(self.select.value); }});
    this.timer = h('span', {className: 'agent-state-timer', 'data-testid': 'agent-state-timer'});
    this.root = opts.root;
    this.root.appendChild(h('label', {className: 'agent-state-label', for: 'agent-state', text: 'Status'}));
    this.root.appendChild(this.select);
    this.root.appendChild(this.timer);
    this.conn.onHello(function (frame) {
      if (Array.isArray(frame.awayReasons)) self.reasons = frame.awayReasons.filter(function (r) { return typeof r === 'string'; });
      if (frame.agentState) self.show(frame.agentState); else self.render();
    });
    this.conn.onEvent(function (frame) {
      if (frame.event === 'agentState' && frame.data) self.show(frame.data);
    });
    this.render();
  }

  /** The value of a state in the select: "available", "away:Lunch", "offline", "acw". */
  function valueOf(state) {
    return state.status === 'away' ? 'away:' + (state.reason || '') : state.status;
  }

  AgentStateSelector.prototype.show = function (state) {
    this.state = {status: String(state.status), reason: state.reason || null,
      since: typeof state.since === 'number' ? state.since : null,
      acwUntil: typeof state.acwUntil === 'number' ? state.acwUntil : null};
    this.render();
  };

  AgentStateSelector.prototype.setReadOnly = function () {
    this.readOnly = true;
    this.render();
  };

  AgentStateSelector.prototype.choose = function (value) {
    var self = this;
    var sep = value.indexOf(':');
    var fields = sep < 0 ? {status: value} : {status: value.slice(0, sep), reason: value.slice(sep + 1)};
    // Busy, not disabled: a disabled select drops the keyboard focus to the page, and arrow
    // keys (each a choice) may follow; only the reply to the latest choice is shown.
    var mine = ++this.pending;
    this.select.setAttribute('aria-busy', 'true');
    this.conn.request('setAgentState', fields).then(function (resp) {
      if (mine !== self.pending) return;
      self.select.removeAttribute('aria-busy');
      if (resp.success && resp.agentState) { self.show(resp.agentState); return; }
      self.notices.show('error', 'Could not change your status: ' + (resp.error || 'unknown error'), {testid: 'agent-state-error'});
      self.render(); // back to the state the server holds
    });
  };

  AgentStateSelector.prototype.render = function () {
    var sel = this.select;
    while (sel.firstChild) sel.removeChild(sel.firstChild);
    var state = this.state;
    sel.appendChild(h('option', {value: 'available', text: 'Available'}));
    this.reasons.forEach(function (r) { sel.appendChild(h('option', {value: 'away:' + r, text: 'Away — ' + r})); });
    if (state && state.status === 'away' && this.reasons.indexOf(state.reason) < 0) {
      sel.appendChild(h('option', {value: valueOf(state), text: 'Away' + (state.reason ? ' — ' + state.reason : '')}));
    }
    sel.appendChild(h('option', {value: 'offline', text: 'Offline'}));
    if (state && state.status === 'acw') sel.appendChild(h('option', {value: 'acw', text: 'After-call work', disabled: true}));
    if (state) sel.value = valueOf(state);
    sel.disabled = this.readOnly || !state;
    this.root.dataset.status = state ? state.status : 'unknown';
    this.tick();
  };

  /** Time in state, or the after-call work left; called every second by boot.js. */
  AgentStateSelector.prototype.tick = function () {
    var state = this.state;
    var now = Date.now() / 1000;
    var text = '';
    if (state && state.status === 'acw' && state.acwUntil !== null) text = 'Wrap-up ' + mmss(state.acwUntil - now);
    else if (state && state.since !== null) text = mmss(now - state.since);
    this.timer.textContent = text;
    this.timer.title = state ? (LABEL.get(state.status) || state.status) + (text ? ' · ' + text : '') : '';
  };

  C.AgentStateSelector = AgentStateSelector;
})(window);
