/*
 * ctikit console: consult transfer and conference controls of a softphone call row.
 *
 * On a connected or held call: "Consult…" opens a field for the target and sends
 * /CONSULT?NUMBER=n&CALL_ID=id (the call is held, a consult call dials). On the consult call
 * (its data has `consultOf`, naming a call still on the line): Complete transfer, Cancel
 * consult and Conference, each naming the consult call. Where the connector cannot
 * (hello's connector.canConsult / canConference), the buttons say so instead of sending.
 * softphone.js calls create() once per row and update() on every change of the row.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var doc = global.document;

  /** The held call a consult call is about, if it is still on the line. */
  function heldOf(store, call) {
    var data = call && call.data;
    var other = data && typeof data === 'object' ? data.consultOf : null;
    if (typeof other !== 'string' || other === call.id) return null;
    for (var i = 0; i < store.calls.length; i++) {
      if (store.calls[i].id === other) return store.calls[i];
    }
    return null;
  }

  /** Whether some call on the line is a consult about ``call``. */
  function hasConsult(store, call) {
    for (var i = 0; i < store.calls.length; i++) {
      var data = store.calls[i].data;
      if (data && typeof data === 'object' && data.consultOf === call.id && store.calls[i].id !== call.id) return true;
    }
    return false;
  }

  function create(softphone, row, cmd) {
    var store = softphone.store;
    var c = {open: false};
    function connectorName() { return (store.connector && store.connector.name) || 'this'; }
    function can(flag) { return !!(store.connector && store.connector[flag]); }
    function btn(key, text, cls, flag, what, onClick) {
      var b = h('button', {type: 'button', className: 'btn btn-sm ' + cls, 'data-testid': 'btn-' + key, text: text});
      b.addEventListener('click', function () {
        if (row.busy) return; // aria-disabled, not disabled: a disabled button drops the focus
        if (!can(flag)) {
          softphone.notices.show('warning', what + ' is not supported by this connector (' + connectorName() + ')',
            {testid: 'consult-unsupported', key: 'consult-unsupported', timeoutMs: 8000});
          return;
        }
        onClick();
      });
      return b;
    }
    function outcome(text) {
      return function (resp) {
        if (resp && resp.success) softphone.notices.show('info', text, {testid: 'consult-outcome', key: 'consult-outcome', timeoutMs: 8000});
        return resp;
      };
    }
    // Complete, cancel, conference: the pressed button went (with its row, or hidden) and
    // took the focus: on to the first call's first button, else the number to dial.
    function refocus(resp) {
      if (resp && resp.success && doc.activeElement === doc.body) {
        (softphone.linesRoot.querySelector('.line-actions button:not([hidden])') || softphone.dialInput).focus();
      }
      return resp;
    }

    c.input = h('input', {
      type: 'tel', className: 'input-sm', 'data-testid': 'consult-input', placeholder: 'Consult number',
      'aria-label': 'Consult number', maxlength: '64', autocomplete: 'off', list: 'transfer-targets'
    });
    var doConsult = cmd('CONSULT', 'Consult', function () {
      return [['NUMBER', c.input.value.replace(/[\s()]/g, '')]];
    });
    c.panel = h('form', {className: 'line-panel', 'data-testid': 'consult-panel', hidden: true},
      c.input,
      h('button', {type: 'submit', className: 'btn btn-sm btn-primary', 'data-testid': 'consult-confirm', text: 'Call'}),
      h('button', {type: 'button', className: 'btn btn-sm btn-ghost', 'data-testid': 'consult-close', text: 'Close',
        onclick: function () { c.open = false; softphone._updateRow(row, row.call); }}));
    c.panel.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var number = c.input.value.trim();
      if (!number) { c.input.focus(); return; }
      doConsult().then(outcome('Consulting ' + number + ': the caller is on hold')).then(function (resp) {
        if (!resp.success) return;
        var hadFocus = c.panel.contains(doc.activeElement) || doc.activeElement === doc.body;
        c.input.value = '';
        c.open = false;
        softphone._updateRow(row, row.call);
        if (hadFocus) focusConsult();
      });
    });

    // The panel closes under the agent's focus: on to the consult call (Cancel consult, with
    // Complete transfer just before it), else this call's Retrieve.
    // (The consult call's events may follow the reply: look again for up to two seconds,
    // while the agent has not put the focus anywhere.)
    function focusConsult(tries) {
      tries = tries || 0;
      if (doc.activeElement !== doc.body && !c.panel.contains(doc.activeElement)) return;
      var target = null;
      softphone.rows.forEach(function (other) {
        var data = other.call && other.call.data;
        if (!target && data && typeof data === 'object' && data.consultOf === row.id &&
            !other.consult.buttons.cancel.hidden) target = other.consult.buttons.cancel;
      });
      if (!target && tries < 20) { setTimeout(function () { focusConsult(tries + 1); }, 100); return; }
      (target || (row.buttons.retrieve.hidden ? null : row.buttons.retrieve) || softphone.dialInput).focus();
    }

    var complete = cmd('COMPLETE_TRANSFER', 'Complete transfer');
    var cancel = cmd('CANCEL_CONSULT', 'Cancel consult');
    var conference = cmd('CONFERENCE', 'Conference');
    c.buttons = {
      consult: btn('consult', 'Consult…', 'btn-secondary', 'canConsult', 'Consult transfer', function () {
        c.open = !c.open;
        softphone._updateRow(row, row.call);
        if (c.open) c.input.focus();
      }),
      complete: btn('complete-transfer', 'Complete transfer', 'btn-primary', 'canConsult', 'Consult transfer', function () {
        var who = C.callNumber(row.call) || 'the consult target';
        complete().then(outcome('Transferred to ' + who)).then(refocus);
      }),
      cancel: btn('cancel-consult', 'Cancel consult', 'btn-secondary', 'canConsult', 'Consult transfer', function () {
        cancel().then(outcome('Consult cancelled: back to the caller')).then(refocus);
      }),
      conference: btn('conference', 'Conference', 'btn-secondary', 'canConference', 'Conference', function () {
        conference().then(outcome('Conference: you, the caller and ' + (C.callNumber(row.call) || 'the target'))).then(refocus);
      })
    };
    c.tag = h('span', {className: 'pill line-consult', 'data-testid': 'line-consult', hidden: true});

    c.update = function (call, busy) {
      var state = call.lineState;
      var held = heldOf(store, call);
      var isConsult = !!held;
      var show = {
        consult: !isConsult && (state === 'connected' || state === 'held') &&
          !hasConsult(store, call) && !(call.data && call.data.conferenceWith),
        complete: isConsult && state === 'connected' && held.lineState === 'held',
        cancel: isConsult && (state === 'connected' || state === 'dialing'),
        conference: isConsult && state === 'connected' && held.lineState === 'held'
      };
      for (var k in c.buttons) {
        var b = c.buttons[k];
        b.hidden = !show[k];
        var flag = k === 'conference' ? 'canConference' : 'canConsult';
        b.setAttribute('aria-disabled', String(busy || !can(flag)));
        b.title = can(flag) ? '' : 'Not supported by this connector (' + connectorName() + ')';
      }
      if (!show.consult) c.open = false;
      c.buttons.consult.setAttribute('aria-expanded', String(c.open));
      c.panel.hidden = !c.open;
      c.tag.hidden = !isConsult;
      c.tag.textContent = isConsult ? 'Consult for ' + (C.formatNumber(C.callNumber(held)) || held.id) : '';
    };
    return c;
  }

  C.Consult = {create: create, heldOf: heldOf};
})(window);
