/*
 * ctikit agent console: errors in an agent's words. The server's errors name commands and
 * call IDs ("/TRANSFER: NUMBER 'abc!' is not a dialable number"), which is right for a
 * developer and noise for an agent: agentWords() keeps what the agent can act on.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;

  // Telephony reasons (SIP status codes and the simulator's words) -> what happened.
  var REASONS = [
    [/\b404\b|not found/i, 'that number does not exist'],
    [/\b486\b|\bbusy\b/i, 'the line is busy'],
    [/\b603\b|declined/i, 'the call was declined'],
    [/\b408\b|\b480\b|no answer/i, 'nobody answered'],
    [/not a dialable number|must be a phone number/i, 'that is not a phone number (use digits, and + * # only)'],
    [/timed out|did not confirm/i, 'the phone system did not answer in time; check the call before trying again'],
    [/not connected|connection (?:is )?(?:down|lost)/i, 'the console is not connected to the server'],
    [/to yourself/i, 'you cannot transfer a call to yourself'],
    [/already on this call/i, 'that agent is already on this call'],
    [/has not answered this call yet/i, 'the other agent has not answered yet'],
    [/rate.?limited|too many/i, 'too many requests at once; wait a moment'],
    [/ended before|is not active|no active call/i, 'the call has already ended'],
    [/could not be held first/i, 'your current call could not be put on hold, so the new call still rings'],
    [/needs a (\w+) call; call '[^']*' is (\w+)/i, null] // below: the call's state
  ];

  /** One sentence an agent understands, from a server error text. */
  function agentWords(error) {
    var text = String(error || '').trim();
    for (var i = 0; i < REASONS.length; i++) {
      var m = REASONS[i][0].exec(text);
      if (!m) continue;
      if (REASONS[i][1]) return REASONS[i][1];
      return 'the call is ' + (m[2] === 'held' ? 'on hold' : m[2]) + ', not ' + m[1];
    }
    // Unknown: drop the command syntax and quoted IDs, keep the rest.
    text = text.replace(/^\/[A-Z_]+:\s*/, '').replace(/\s*\(\d{3}[^)]*\)/, '')
      .replace(/\bcall '[^']*'\s*/g, 'the call ').replace(/[A-Z_]+=\S+/g, '').trim();
    return text || 'something went wrong';
  }

  C.agentWords = agentWords;
})(window);
