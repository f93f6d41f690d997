/*
 * ctikit agent console: how calls, states and times read on screen.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;

  // Maps, not objects: a state or type the server did not define (or one named "toString")
  // is simply unknown.
  var STATE_TEXT = new Map([
    ['ringing', 'Ringing'], ['dialing', 'Dialing'], ['connected', 'Connected'], ['held', 'On hold']
  ]);
  var TYPE_TEXT = new Map([['INBOUND', 'Inbound'], ['OUTBOUND', 'Outbound'], ['INTERNAL', 'Internal']]);

  /** 'Ringing', 'On hold'...; '' for a state without a name. */
  function stateText(state) { return STATE_TEXT.get(state) || ''; }
  /** 'Inbound', 'Outbound', 'Internal'; '' for anything else. */
  function typeText(type) { return TYPE_TEXT.get(type) || ''; }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  /** 75 -> '1:15', 3725 -> '1:02:05'. */
  function formatDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds || 0));
    var hrs = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (hrs ? hrs + ':' + pad2(m) : m) + ':' + pad2(s);
  }

  /** Epoch seconds -> local 'HH:MM' ('' for none). */
  function formatClock(epochSeconds) {
    if (!epochSeconds) return '';
    var d = new Date(epochSeconds * 1000);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }

  /** Caller number for display: ANI for inbound, DNIS for outbound. */
  function callNumber(call) {
    if (!call) return '';
    var data = call.data;
    if (call.type === 'OUTBOUND') return call.dnis || C.own(data, 'DNIS') || call.label || '';
    return call.ani || C.own(data, 'ANI') || call.label || '';
  }

  // Numbers as people write them, by libphonenumber on the server (GET /api/phone-numbers):
  // '+14155550123' -> '+1 415-555-0123'. A number is shown as it is until its format
  // arrives (a few ms), then the views render again (onNumbersFormatted).
  var MAX_KNOWN = 500, BATCH = 50;
  var known = new Map();   // raw number -> its format ('' while asked)
  var wanted = [];
  var asking = null;
  var listeners = [];

  /** The number formatted for people; as it is for an extension or a national number. */
  function formatNumber(raw) {
    var text = raw === null || raw === undefined ? '' : String(raw);
    if (text.charAt(0) !== '+' || text.length > 64) return text;
    if (known.has(text)) return known.get(text) || text;
    if (known.size >= MAX_KNOWN) known.delete(known.keys().next().value);
    known.set(text, '');
    wanted.push(text);
    if (!asking) asking = global.setTimeout(ask, 0);
    return text;
  }

  function ask() {
    var batch = wanted.splice(0, BATCH);
    var query = batch.map(function (n) { return 'number=' + encodeURIComponent(n); }).join('&');
    C.api('/api/phone-numbers?' + query).then(function (res) {
      var list = res.ok && res.body && Array.isArray(res.body.numbers) ? res.body.numbers : [];
      list.forEach(function (n) {
        if (n && typeof n.number === 'string' && typeof n.international === 'string' && known.has(n.number)) {
          known.set(n.number, n.international);
        }
      });
      done();
    }, done);
    function done() {
      batch.forEach(function (n) { if (known.get(n) === '') known.set(n, n); }); // none came: as it is
      asking = wanted.length ? global.setTimeout(ask, 0) : null;
      listeners.forEach(function (fn) { try { fn(); } catch (e) { console.error('ctikit console:', e); } });
    }
  }

  /** Whether the number's format is still being asked for. */
  function numberPending(raw) { return known.get(String(raw)) === ''; }

  /** fn() each time formats arrive (to render again). */
  function onNumbersFormatted(fn) { listeners.push(fn); }

  /** The call's number (callNumber), formatted for display. */
  function displayNumber(call) { return formatNumber(callNumber(call)); }

  /** 'Label (number)', or whichever of the two there is, or the call ID. */
  function callTitle(call) {
    var raw = callNumber(call);
    var num = formatNumber(raw);
    var label = call.label || '';
    if (label === raw) label = ''; // the number itself: shown formatted
    if (label && num && label !== num) return label + ' (' + num + ')';
    return label || num || call.id;
  }

  C.stateText = stateText;
  C.typeText = typeText;
  C.formatDuration = formatDuration;
  C.formatClock = formatClock;
  C.callNumber = callNumber;
  C.callTitle = callTitle;
  C.formatNumber = formatNumber;
  C.onNumbersFormatted = onNumbersFormatted;
  C.numberPending = numberPending;
  C.displayNumber = displayNumber;
})(window);
