/*
 * Caller card: shows who is calling, using only the documented sforce.console.cti API.
 *
 *  - onCallBegin      -> getCallAttachedData(id, cb, {getCallType: true}) -> show the card
 *  - onCallEnd        -> forget that call (the card moves on to the next one, or clears)
 *  - on load          -> getCallObjectIds, so a call already in progress is shown too
 *
 * The API has no "data changed" event and a softphone may attach data just after the call
 * begins, so while a call is shown the card re-reads its data every few seconds.
 * Everything the caller or the telephony side sent is shown with textContent (never as HTML),
 * and call IDs and data keys are data: calls are kept in a Map, data fields are read only if
 * they are the data's own, so a call "__proto__" or a key "toString" is shown like any other.
 */
(function () {
  'use strict';

  var REFRESH_MS = 1500;
  var cti = window.sforce && sforce.console && sforce.console.cti;
  var calls = new Map(); // id -> {id, type, data (object or null), loaded}
  var order = [];      // active call IDs, arrival order
  var pinned = null;   // a call the agent chose from "other calls"; else show the latest

  function $(id) { return document.getElementById(id); }
  function setStatus(text) { $('status').textContent = text; }

  function addCall(id) {
    id = String(id);
    if (!calls.has(id)) {
      calls.set(id, {id: id, type: null, data: null, loaded: false});
      order.push(id);
    }
    loadData(id);
  }

  function removeCall(id) {
    id = String(id);
    calls.delete(id);
    order = order.filter(function (x) { return x !== id; });
    if (pinned === id) pinned = null;
    render();
  }

  function loadData(id) {
    cti.getCallAttachedData(id, function (result) {
      var call = calls.get(id);
      if (!call) return;
      if (!result.success || result.data === null || result.data === undefined) {
        // Not active any more (ended while we asked).
        if (result.data === null) removeCall(id);
        return;
      }
      var data;
      try { data = JSON.parse(result.data); } catch (e) { data = {value: String(result.data)}; }
      call.data = data;
      if (result.type) call.type = result.type;
      call.loaded = true;
      render();
    }, {getCallType: true});
  }

  function syncIds() {
    var known = order.slice(); // calls that began after we asked are kept as they are
    cti.getCallObjectIds(function (result) {
      if (!result.success) return;
      var ids = [];
      for (var i = 0; i < result.ids.length; i++) ids.push(String(result.ids[i]));
      ids.forEach(function (id) { if (!calls.has(id)) addCall(id); });
      known.forEach(function (id) { if (calls.has(id) && ids.indexOf(id) < 0) removeCall(id); });
      var newer = order.filter(function (id) { return ids.indexOf(id) < 0 && calls.has(id); });
      order = ids.filter(function (id) { return calls.has(id); }).concat(newer);
      render();
    });
  }

  function pick(data, names) {
    if (!data || typeof data !== 'object') return '';
    for (var i = 0; i < names.length; i++) {
      if (!Object.prototype.hasOwnProperty.call(data, names[i])) continue;
      var value = data[names[i]];
      if (value !== undefined && value !== null) return String(value);
    }
    return '';
  }

  function show(value) {
    if (value === null || value === undefined) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }

  function shownId() {
    if (pinned && calls.has(pinned)) return pinned;
    return order.length ? order[order.length - 1] : null;
  }

  function render() {
    var id = shownId();
    var call = id ? calls.get(id) : null;
    $('empty').hidden = !!call;
    $('card').hidden = !call;
    var body = $('card-data');
    while (body.firstChild) body.removeChild(body.firstChild);
    if (call) {
      var data = call.data && typeof call.data === 'object' ? call.data : {};
      $('card').setAttribute('data-call-id', call.id);
      $('card-call-id').textContent = call.id;
      $('card-type').textContent = call.type || (call.loaded ? 'CALL' : '…');
      $('card-type').setAttribute('data-type', call.type || '');
      $('card-ani').textContent = pick(data, ['ANI', 'ani', 'CallerId', 'from']) || '—';
      $('card-dnis').textContent = pick(data, ['DNIS', 'dnis', 'CalledNumber', 'to']) || '—';
      var keys = Object.keys(data);
      keys.forEach(function (key) {
        var tr = document.createElement('tr');
        tr.setAttribute('data-testid', 'data-row');
        var th = document.createElement('th');
        th.scope = 'row';
        th.textContent = key;
        th.setAttribute('data-testid', 'data-key');
        var td = document.createElement('td');
        td.textContent = show(data[key]);
        td.setAttribute('data-testid', 'data-value');
        tr.appendChild(th);
        tr.appendChild(td);
        body.appendChild(tr);
      });
      $('card-nodata').hidden = keys.length > 0 || !call.loaded;
    } else {
      $('card').removeAttribute('data-call-id');
    }

    var others = order.filter(function (x) { return x !== id; });
    var list = $('others');
    while (list.firstChild) list.removeChild(list.firstChild);
    $('others-box').hidden = others.length === 0;
    others.forEach(function (otherId) {
      var other = calls.get(otherId);
      var li = document.createElement('li');
      var b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('data-testid', 'other-call');
      b.setAttribute('data-call-id', otherId);
      var ani = pick(other.data, ['ANI', 'ani']);
      b.textContent = (ani ? ani + ' · ' : '') + otherId;
      b.addEventListener('click', function () { pinned = otherId; render(); });
      li.appendChild(b);
      list.appendChild(li);
    });
  }

  if (!cti) {
    setStatus('integration.js not loaded');
    render();
    return;
  }

  cti.onCallBegin(function (result) { addCall(result.id); });
  cti.onCallEnd(function (result) { removeCall(result.id); });
  // The first answer also tells whether we are in a console ("not in console" otherwise).
  cti.getCallObjectIds(function (result) {
    setStatus(result.success ? 'Ready' : (result.error === 'not in console' ? 'Not in a console' : 'Error: ' + result.error));
    syncIds();
  });
  render();

  setInterval(function () {
    if (!order.length) return;
    syncIds();
    var id = shownId();
    if (id) loadData(id);
  }, REFRESH_MS);
})();
