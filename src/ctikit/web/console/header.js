/*
 * ctikit agent console: the header bar. The connection badge, whose console this is, the
 * signed-in user, the telephony line's name, "Simulate call" and the read-only badge.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var byId = C.byId;
  var doc = global.document;
  var STATUS_TEXT = new Map([
    ['connecting', 'Connecting…'], ['connected', 'Connected'], ['reconnecting', 'Reconnecting…']
  ]);

  var header = {
    readOnly: false,

    /** The connection's status: connecting | connected | reconnecting (or signed-out). */
    status: function (status, text) {
      var badge = byId('connection-status');
      badge.dataset.state = status;
      badge.querySelector('.status-text').textContent = text || STATUS_TEXT.get(status) || status;
      if (status !== 'signed-out') doc.body.dataset.connection = status;
    },

    /** The console cannot go on (no agent, not allowed): the badge says why. */
    stuck: function (text) {
      this.status('connecting');
      byId('connection-status').querySelector('.status-text').textContent = text;
    },

    agent: function (agent) { byId('agent-id').textContent = agent || '—'; },

    /** The directory's entry for this console's agent: name and extension. */
    agentDetail: function (agents, agent) {
      if (!Array.isArray(agents)) return;
      agents.forEach(function (a) {
        if (!a || a.id !== agent) return;
        byId('agent-detail').textContent =
          [a.name, a.extension ? 'ext. ' + a.extension : null].filter(Boolean).join(' · ');
      });
    },

    /** Who signed in, and the sign-out button. */
    user: function (name, onSignOut) {
      byId('user-name').textContent = name;
      byId('user-name').title = 'Signed in as ' + name;
      byId('user-box').hidden = false;
      byId('logout').addEventListener('click', onSignOut);
    },

    /** "Simulate call" asks the server to make a test call ring here. */
    bindSimulate: function (conn, notices) {
      var simulate = byId('simulate-call');
      simulate.addEventListener('click', function () {
        simulate.disabled = true;
        conn.request('simulateCall', {}).then(function (resp) {
          simulate.disabled = false;
          if (!resp.success) notices.show('error', 'Simulated call failed: ' + (resp.error || 'unknown error'), {testid: 'softphone-error'});
        });
      });
    },

    /** A supervisor watching: the badge shows, nothing that changes calls does. */
    setReadOnly: function () {
      this.readOnly = true;
      doc.body.classList.add('read-only');
      byId('read-only').hidden = false;
      byId('simulate-call').hidden = true;
    },

    /** From the store: the line's name, and whether it can place test calls. */
    render: function (store) {
      var connector = store.connector;
      byId('connector-name').textContent = connector && connector.name ? 'Line: ' + connector.name : '';
      byId('simulate-call').hidden = this.readOnly || !(connector && connector.canPlaceCalls);
    }
  };

  C.header = header;
})(window);
