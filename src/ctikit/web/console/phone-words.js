/*
 * ctikit console: what the browser phone tells the agent, and the SDP check it needs
 * (an ES module of webphone.js; docs/webrtc.md, "Faults").
 */
// Words an agent understands for a failed registration.
export function registerWords(status, phrase) {
  if (status === 401 || status === 403 || status === 407) {
    return 'The phone server refused your phone password. Calls cannot reach you: ask your administrator to check your SIP account.';
  }
  if (status === 0) return 'The phone server cannot be reached (' + (phrase || 'no connection') + '). Calls cannot reach you; retrying.';
  return 'The phone server did not accept your phone (' + status + ' ' + (phrase || '') + '). Calls cannot reach you.';
}

export function mediaWords(err) {
  var name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return 'The browser may not use your microphone: allow it for this site (the icon in the address bar), then try again.';
  }
  if (name === 'NotFoundError') return 'No microphone was found: plug one in, then try again.';
  return 'The call could not be set up in the browser (' + String(err && err.message || err) + ').';
}

/** Audio codecs of an SDP's audio section, besides DTMF and comfort noise. */
export function audioCodecs(sdp) {
  var out = [];
  String(sdp || '').split(/\r?\n/).forEach(function (line) {
    var m = /^a=rtpmap:\d+ ([^/]+)\//.exec(line);
    if (m && !/^(telephone-event|CN)$/i.test(m[1])) out.push(m[1].toLowerCase());
  });
  return out;
}
