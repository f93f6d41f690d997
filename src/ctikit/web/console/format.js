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

  /** 'Label (number)', or whichever of the two there is, or the call ID. */
  function callTitle(call) {
    var num = callNumber(call);
    var label = call.label || '';
    if (label && num && label !== num) return label + ' (' + num + ')';
    return label || num || call.id;
  }

  C.stateText = stateText;
  C.typeText = typeText;
  C.formatDuration = formatDuration;
  C.formatClock = formatClock;
  C.callNumber = callNumber;
  C.callTitle = callTitle;
})(window);
