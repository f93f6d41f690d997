/*
 * A minimal custom softphone, the way a CTI vendor writes one for the Salesforce console:
 * the vendor's own telephony tracks the calls, and this component tells the console about
 * them with the API 31.0+ "fire" methods. Only documented sforce.console.cti calls are used.
 *
 *   fireOnCallBegin(id, type, label)   -> every onCallBegin handler (caller card, ...)
 *   setCallAttachedData(id, json, type) -> what getCallAttachedData returns
 *   setCallObjectIds([...])            -> the order getCallObjectIds returns
 *   sendCTIMessage(text)               -> the CTI adapter and every onSendCTIMessage handler
 *   fireOnCallEnd(id, seconds, disp)   -> every onCallEnd handler
 *   fireOnCallLogSaved(logId)          -> every onCallLogSaved handler
 */
(function () {
  'use strict';

  var cti = window.sforce && sforce.console && sforce.console.cti;
  var counter = 0;

  function $(id) { return document.getElementById(id); }

  function newCallId() {
    counter += 1;
    return 'cs-' + Date.now().toString(36) + '-' + counter;
  }

  function addLine(listId, text) {
    var li = document.createElement('li');
    li.textContent = text; // never innerHTML: messages and IDs come from other frames
    var list = $(listId);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 50) list.removeChild(list.lastChild);
    return li;
  }

  /** Show an API result; returns a callback for the API call. */
  function report(what, after) {
    return function (result) {
      var el = $('result');
      el.className = 'result ' + (result.success ? 'ok' : 'err');
      el.textContent = what + ': ' + (result.success ? 'success' : 'failed: ' + (result.error || 'unknown error'));
      el.setAttribute('data-success', result.success ? 'true' : 'false');
      if (after) after(result);
    };
  }

  function defaultData() {
    return JSON.stringify({
      ANI: '+14155550123',
      DNIS: '8005550100',
      AccountNumber: 'ACME-0042',
      IVRPath: 'billing > card lost'
    });
  }

  function idsFromInput() {
    return $('call-ids').value.split(',').map(function (s) { return s.trim(); })
      .filter(function (s) { return s.length > 0; });
  }

  function loadIds() {
    cti.getCallObjectIds(function (result) {
      if (!result.success) { report('getCallObjectIds')(result); return; }
      var ids = [];
      for (var i = 0; i < result.ids.length; i++) ids.push(String(result.ids[i]));
      $('call-ids').value = ids.join(', ');
    });
  }

  if (!cti) {
    $('status').textContent = 'integration.js not loaded';
    return;
  }
  // The first answer also tells whether we are in a console ("not in console" otherwise).
  cti.getCallObjectIds(function (result) {
    $('status').textContent = result.success ? 'Ready'
      : (result.error === 'not in console' ? 'Not in a console' : 'Error: ' + result.error);
  });
  $('call-id').value = newCallId();
  $('call-data').value = defaultData();
  $('call-label').value = 'Customer +14155550123';

  $('begin').addEventListener('click', function () {
    var id = $('call-id').value.trim();
    cti.fireOnCallBegin(id, $('call-type').value, $('call-label').value, report('fireOnCallBegin', function (r) {
      if (r.success) loadIds();
    }));
  });

  $('attach').addEventListener('click', function () {
    cti.setCallAttachedData($('call-id').value.trim(), $('call-data').value, $('call-type').value,
      report('setCallAttachedData'));
  });

  $('load-ids').addEventListener('click', loadIds);
  $('reverse-ids').addEventListener('click', function () {
    $('call-ids').value = idsFromInput().reverse().join(', ');
  });
  $('set-ids').addEventListener('click', function () {
    cti.setCallObjectIds(idsFromInput(), report('setCallObjectIds'));
  });

  function send(text) {
    cti.sendCTIMessage(text, report('sendCTIMessage ' + text));
  }
  $('send-cti').addEventListener('click', function () { send($('cti-text').value); });
  Array.prototype.forEach.call(document.querySelectorAll('[data-cmd]'), function (b) {
    b.addEventListener('click', function () {
      var id = $('call-id').value.trim();
      send(b.getAttribute('data-cmd') + (id ? '?CALL_ID=' + encodeURIComponent(id) : ''));
    });
  });

  $('end').addEventListener('click', function () {
    var id = $('call-id').value.trim();
    var seconds = Number($('duration').value);
    cti.fireOnCallEnd(id, seconds, $('disposition').value, report('fireOnCallEnd', function (r) {
      if (r.success) { $('call-id').value = newCallId(); loadIds(); }
    }));
  });

  $('fire-log').addEventListener('click', function () {
    cti.fireOnCallLogSaved($('log-id').value.trim(), report('fireOnCallLogSaved'));
  });

  // What the console (and other components) do, seen from here.
  cti.onSendCTIMessage(function (result) {
    addLine('cti-log', result.message).setAttribute('data-testid', 'cti-message');
  });
  cti.onCallBegin(function (result) {
    addLine('event-log', 'callBegin ' + result.id).setAttribute('data-testid', 'event-begin');
  });
  cti.onCallEnd(function (result) {
    addLine('event-log', 'callEnd ' + result.id + ' (' + result.duration + ' s, ' +
      (result.disposition || 'no disposition') + ')').setAttribute('data-testid', 'event-end');
  });
  cti.onCallLogSaved(function (result) {
    addLine('event-log', 'callLogSaved ' + result.id).setAttribute('data-testid', 'event-log-saved');
  });
  loadIds();
})();
