/*
 * ctikit console: the browser phone (connector "webrtc", docs/webrtc.md). An ES module,
 * loaded by boot.js only when the connector is webrtc; SIP.js is vendored
 * (/static/vendor/sip.js, docs/vendoring.md).
 *
 * The server decides which console of an agent is the phone (phoneSetup): that one registers
 * the agent's SIP account, reports every SIP dialog event (phoneReport) and carries out the
 * commands the server routes to it ({type:"phone", cmd, ref}, answered by phoneDone). The
 * softphone's buttons and components' sendCTIMessage go through the server as with any
 * connector, so every console of the agent (and the components) see the same events.
 */
import { Inviter, Registerer, RegistererState, SessionState, UserAgent } from '/static/vendor/sip.js/lib/index.js';
import { audioCodecs, mediaWords, registerWords } from '/static/console/phone-words.js';

var C = window.CtikitConsole;

export class WebPhone {
  constructor(opts) {
    this.conn = opts.conn;
    this.notices = opts.notices;
    this.statusEl = opts.statusEl;
    this.options = Object.assign({rawAudio: false}, window.CtikitPhoneOptions || {});
    this.role = null;          // 'phone' | 'follower' | 'none'
    this.sip = null;           // the account from phoneSetup
    this.ua = null;
    this.registerer = null;
    this.sessions = new Map(); // call ID -> {session, outgoing, by, status, phrase, audio}
    this.registered = false;
    this.registrations = 0;    // successful registrations (a reconnect adds one)
    this._retry = null;
    this._closing = false;
    var self = this;
    this.conn.onPhone(function (frame) { self._command(frame); });
    this.conn.onHello(function () { self.setup(); });
    window.addEventListener('pagehide', function () { self._close(); });
    this.setup();
  }

  // ---- the server's side ------------------------------------------------------------

  /** Ask the server whether this console is the phone (again after each reconnect). */
  setup() {
    var self = this;
    return this.conn.request('phoneSetup', {calls: Array.from(this.sessions.keys())}).then(function (resp) {
      if (!resp.success) { self._status('error', 'Phone unavailable: ' + (resp.error || 'no answer')); return; }
      self.role = resp.role;
      if (resp.role === 'follower') {
        self._status('follower', 'Phone: in another console of yours');
        return;
      }
      if (resp.role !== 'phone') { self._status('error', 'No phone: ' + (resp.reason || '')); return; }
      (resp.drop || []).forEach(function (id) {
        var entry = self.sessions.get(id);
        if (entry) { entry.by = 'closed'; self._end(entry); }
      });
      if (!self.ua) self._start(resp.sip);
      else self._report({kind: 'line', up: self.registered, reason: self.registered ? null : 'not registered'});
    });
  }

  _report(report) {
    return this.conn.request('phoneReport', {report: report}).then(function (resp) {
      if (!resp.success) console.warn('ctikit phone: report refused', report, resp.error);
      return resp;
    });
  }

  _done(ref, error) {
    return this.conn.request('phoneDone', {ref: ref, error: error == null ? null : String(error)});
  }

  // ---- SIP ----------------------------------------------------------------------------

  _start(sip) {
    var self = this;
    this.sip = sip;
    this._status('connecting', 'Phone: connecting…');
    this.ua = new UserAgent({
      uri: UserAgent.makeURI('sip:' + sip.user + '@' + sip.domain),
      transportOptions: {server: sip.server, traceSip: false},
      authorizationUsername: sip.user,
      authorizationPassword: sip.password,
      logLevel: 'warn',
      sessionDescriptionHandlerFactoryOptions: {iceGatheringTimeout: 500},
      // The console rings first, then the 180 goes out (_incoming): SIP.js would build the
      // early dialog and send the 180 before telling the page of the call.
      sendInitialProvisionalResponse: false,
      delegate: {
        onInvite: function (invitation) { self._incoming(invitation); },
        onConnect: function () { self._register(); },
        onDisconnect: function (error) {
          if (self._closing) return;
          self._lineDown(registerWords(0, error ? error.message : 'connection lost'));
          self._reconnect();
        }
      }
    });
    this.registerer = new Registerer(this.ua);
    this.registerer.stateChange.addListener(function (state) {
      if (state === RegistererState.Registered) self._registeredOk();
    });
    this.ua.start().catch(function (e) {
      self._lineDown(registerWords(0, e && e.message));
      self._reconnect();
    });
  }

  _registeredOk() {
    if (this.registered) return;
    this.registered = true;
    this.registrations += 1;
    this._status('ready', 'Phone: ready');
    this.notices.dismiss('phone');
    this._report({kind: 'line', up: true});
  }

  _register() {
    var self = this;
    this.registerer.register({requestDelegate: {
      // Again after a reconnect: the state may still say Registered, the 200 OK is news.
      onAccept: function () { self._registeredOk(); },
      onReject: function (r) {
        var msg = r.message;
        self._lineDown(registerWords(msg.statusCode, msg.reasonPhrase), true);
      }
    }}).catch(function (e) { self._lineDown(registerWords(0, e && e.message)); });
  }

  _reconnect() {
    var self = this;
    if (this._retry || this._closing) return;
    this._retry = setTimeout(function () {
      self._retry = null;
      self.ua.reconnect().catch(function () { self._reconnect(); });
    }, 1000);
  }

  _lineDown(words, final) {
    this.registered = false;
    this._status('error', words);
    this.notices.show(final ? 'error' : 'warning', words, {key: 'phone', testid: 'phone-error', dismissable: !final});
    this._report({kind: 'line', up: false, reason: words});
  }

  _track(session, outgoing, peer) {
    var self = this;
    var id = session.request.callId;
    var entry = {session: session, id: id, outgoing: outgoing, by: null, status: null, phrase: null, audio: null,
      offeredAt: performance.timeOrigin + performance.now()};  // ms since the epoch (bench/)
    this.sessions.set(id, entry);
    session.stateChange.addListener(function (state) {
      if (state === SessionState.Established) self._established(entry);
      // SIP.js ends the session before it hands us the final response: read it first.
      if (state === SessionState.Terminated) setTimeout(function () { self._terminated(entry); }, 0);
    });
    entry.offered = this._report({kind: 'offered', callId: id, direction: outgoing ? 'out' : 'in', peer: peer});
    return entry;
  }

  _incoming(invitation) {
    var peer = invitation.remoteIdentity.uri.user;
    this._track(invitation, false, peer);
    // 180 Ringing, as SIP.js would have sent it (not when the caller requires 100rel).
    if (invitation.rel100 !== 'required') {
      invitation.progress().catch(function (e) { console.warn('ctikit phone: 180 not sent', e); });
    }
  }

  _established(entry) {
    var sdh = entry.session.sessionDescriptionHandler;
    var pc = sdh && sdh.peerConnection;
    var ours = pc && pc.localDescription ? audioCodecs(pc.localDescription.sdp) : [];
    var theirs = pc && pc.remoteDescription ? audioCodecs(pc.remoteDescription.sdp) : [];
    if (pc && !ours.some(function (c) { return theirs.indexOf(c) >= 0; })) {
      // A phone offering only codecs the browser lacks still "connects" with DTMF alone.
      entry.by = 'media';
      entry.phrase = 'no audio codec in common with the other phone';
      this.notices.show('error', 'The call was ended: the other phone has no audio format in common with your browser.', {testid: 'phone-error'});
      this._end(entry);
      return;
    }
    this._watchMedia(entry, pc);
    var audio = new Audio();
    audio.autoplay = true;
    audio.srcObject = sdh.remoteMediaStream;
    audio.setAttribute('data-testid', 'phone-audio');
    audio.hidden = true;
    document.body.appendChild(audio);
    audio.play().catch(function () { /* autoplay blocked: the agent clicked Answer, so rare */ });
    entry.audio = audio;
    this._report({kind: 'answered', callId: entry.id});
  }

  /** Audio that stops flowing (the media relay restarted, the network went): warn, then
   * end the call with a reason once the browser gives up on it (ICE failed, about 30 s). */
  _watchMedia(entry, pc) {
    var self = this;
    if (!pc) return;
    pc.addEventListener('connectionstatechange', function () {
      var state = pc.connectionState;
      if (state === 'disconnected') {
        self.notices.show('warning', 'The audio of your call is interrupted; waiting for it to come back…',
          {key: 'media-' + entry.id, testid: 'phone-media'});
      } else if (state === 'connected') {
        self.notices.dismiss('media-' + entry.id);
      } else if (state === 'failed' && self.sessions.has(entry.id)) {
        self.notices.dismiss('media-' + entry.id);
        self.notices.show('error', 'The call was ended: its audio connection was lost.', {testid: 'phone-error'});
        entry.by = 'media';
        entry.phrase = 'audio connection lost';
        self._end(entry);
      }
    });
  }

  _terminated(entry) {
    if (entry.audio) { entry.audio.srcObject = null; entry.audio.remove(); }
    if (!this.sessions.has(entry.id)) return;
    this.sessions.delete(entry.id);
    var report = {kind: 'ended', callId: entry.id, by: entry.by || (entry.status ? 'failed' : 'peer')};
    if (entry.status) report.status = entry.status;
    if (entry.phrase) report.phrase = entry.phrase;
    if (entry.target) report.target = entry.target;
    this._report(report);
  }

  /** End a call from this side, whatever its state. */
  _end(entry) {
    var s = entry.session;
    if (!entry.by) entry.by = 'agent';
    if (s.state === SessionState.Established) return s.bye();
    if (s.state === SessionState.Initial || s.state === SessionState.Establishing) {
      return entry.outgoing ? s.cancel() : s.reject();
    }
    return Promise.resolve();
  }

  _constraints() {
    var audio = this.options.rawAudio
      ? {echoCancellation: false, autoGainControl: false, noiseSuppression: false}
      : true;
    return {audio: audio, video: false};
  }

  // ---- commands from the server -------------------------------------------------------

  _command(frame) {
    var self = this;
    if (frame.cmd === 'claim') { this.setup(); return; }
    var ref = frame.ref;
    var run;
    try {
      run = this._run(frame);
    } catch (e) {
      run = Promise.reject(e);
    }
    Promise.resolve(run).then(function () { self._done(ref, null); }, function (e) {
      self._done(ref, e && e.message ? e.message : String(e));
    });
  }

  _entry(frame) {
    var entry = this.sessions.get(frame.callId);
    if (!entry) throw new Error('this phone has no call ' + frame.callId);
    return entry;
  }

  _run(frame) {
    var self = this;
    switch (frame.cmd) {
      case 'answer': {
        var entry = this._entry(frame);
        return entry.session.accept({sessionDescriptionHandlerOptions: {constraints: this._constraints()}})
          .catch(function (e) {
            var words = mediaWords(e);
            // SIP.js turns the call down when it cannot answer it: say why.
            entry.by = 'media';
            entry.phrase = e && e.name === 'NotAllowedError' ? 'no microphone permission' : 'media failed';
            self.notices.show('error', words, {testid: 'phone-error'});
            throw new Error(words);
          });
      }
      case 'hangup':
        return this._end(this._entry(frame));
      case 'hold':
      case 'retrieve':
        return this._hold(this._entry(frame), frame.cmd === 'hold');
      case 'mute':
      case 'unmute': {
        var e2 = this._entry(frame);
        var muted = frame.cmd === 'mute';
        e2.session.sessionDescriptionHandler.enableSenderTracks(!muted && !e2.held);
        e2.muted = muted;
        return this._report({kind: 'muted', callId: e2.id, muted: muted});
      }
      case 'dtmf': {
        var e3 = this._entry(frame);
        var ok = e3.session.sessionDescriptionHandler.sendDtmf(String(frame.digits), {duration: 120, interToneGap: 80});
        if (!ok) throw new Error('the call cannot send tones now');
        return null;
      }
      case 'transfer':
        return this._transfer(this._entry(frame), String(frame.number));
      case 'dial':
        return this._dial(String(frame.number));
      default:
        throw new Error('unknown phone command ' + frame.cmd);
    }
  }

  _hold(entry, on) {
    var self = this;
    var sdh = entry.session.sessionDescriptionHandler;
    return new Promise(function (resolve, reject) {
      entry.session.invite({
        sessionDescriptionHandlerOptions: {hold: on},
        requestDelegate: {
          onAccept: function () {
            entry.held = on;
            sdh.enableSenderTracks(!on && !entry.muted);
            self._report({kind: on ? 'held' : 'retrieved', callId: entry.id}).then(resolve);
          },
          onReject: function (r) { reject(new Error(r.message.statusCode + ' ' + r.message.reasonPhrase)); }
        }
      }).catch(reject);
    });
  }

  _transfer(entry, number) {
    var self = this;
    var target = UserAgent.makeURI('sip:' + number + '@' + this.sip.domain);
    if (!target) return Promise.reject(new Error('not a number: ' + number));
    return new Promise(function (resolve, reject) {
      entry.session.refer(target, {requestDelegate: {
        onAccept: function () {
          entry.by = 'transferred';
          entry.target = number;
          Promise.resolve(entry.session.bye()).then(resolve, resolve);
        },
        onReject: function (r) { reject(new Error('transfer refused (' + r.message.statusCode + ' ' + r.message.reasonPhrase + ')')); }
      }}).catch(reject);
    });
  }

  _dial(number) {
    var self = this;
    if (!this.registered) return Promise.reject(new Error('the phone is not registered'));
    var target = UserAgent.makeURI('sip:' + number + '@' + this.sip.domain);
    if (!target) return Promise.reject(new Error('not a number: ' + number));
    var inviter = new Inviter(this.ua, target, {
      sessionDescriptionHandlerOptions: {constraints: this._constraints()}
    });
    var entry = this._track(inviter, true, number);
    inviter.invite({requestDelegate: {
      onReject: function (r) { entry.status = r.message.statusCode; entry.phrase = r.message.reasonPhrase; }
    }}).catch(function (e) {
      entry.by = 'failed';
      entry.phrase = mediaWords(e);
      self.notices.show('error', entry.phrase, {testid: 'phone-error'});
    });
    return entry.offered;
  }

  // ---- the page -------------------------------------------------------------------------

  /** The tab is closing: say so for each call, then end it on the SIP side too. */
  _close() {
    var self = this;
    this._closing = true;
    this.sessions.forEach(function (entry) {
      entry.by = 'closed';
      self._report({kind: 'ended', callId: entry.id, by: 'closed'});
      self.sessions.delete(entry.id);
      try { self._end(entry); } catch (e) { /* going away */ }
    });
    if (this.registerer && this.registered) {
      try { this.registerer.unregister(); } catch (e) { /* going away */ }
    }
  }

  _status(state, text) {
    if (!this.statusEl) return;
    this.statusEl.hidden = false;
    this.statusEl.dataset.state = state;
    this.statusEl.textContent = text;
  }

  /** The remote audio of a call (tests measure it; docs/webrtc.md). */
  remoteStream(callId) {
    var entry = this.sessions.get(callId);
    var sdh = entry && entry.session.sessionDescriptionHandler;
    return sdh ? sdh.remoteMediaStream : null;
  }
}

export function start(opts) {
  var phone = new WebPhone(opts);
  C.phone = phone;
  return phone;
}
