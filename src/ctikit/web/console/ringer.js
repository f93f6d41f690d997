/*
 * ctikit agent console: being told a call rings. While an incoming call rings the console
 * plays a ringtone (WebAudio: the 440 + 480 Hz tone of a North American ring, 2 s on, 4 s
 * off), the tab's title says so, and, when the console is not in view, a desktop
 * notification says who calls (clicking it brings the console back). Each can be turned off
 * in the config ([console] ringtone, tab_title, notifications).
 *
 * Browsers let a page make sound only after the agent has used it (a click or a key), so the
 * audio starts on the first one; the notification permission is asked at the same moment.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var doc = global.document;
  var ON_S = 2, PERIOD_S = 6, LEVEL = 0.08;

  function Ringer(opts) {
    var self = this;
    this.store = opts.store;
    this.settings = {ringtone: true, tabTitle: true, notifications: true};
    this.baseTitle = null;  // the title while nothing rings
    this.ringing = [];      // IDs of the ringing calls, arrival order
    this.notified = new Map(); // ringing call ID -> its Notification (null: none shown)
    this.audio = null;      // AudioContext, from the first gesture on
    this.tone = null;       // {gain, oscillators, timer} while the ringtone plays
    function unlock() {
      self._audio();
      if (self.settings.notifications && global.Notification && global.Notification.permission === 'default') {
        try { global.Notification.requestPermission(); } catch (e) { /* old browsers: callback form */ }
      }
    }
    doc.addEventListener('pointerdown', unlock, true);
    doc.addEventListener('keydown', unlock, true);
  }

  /** The config's [console] settings: ringtone, tabTitle, notifications (booleans). */
  Ringer.prototype.configure = function (desk) {
    var s = this.settings;
    if (this.silent) return;
    ['ringtone', 'tabTitle', 'notifications'].forEach(function (k) {
      if (typeof desk[k] === 'boolean') s[k] = desk[k];
    });
    this.render(this.store);
  };

  /** A supervisor watching another agent's console: it never rings for them. */
  Ringer.prototype.silence = function () {
    this.settings = {ringtone: false, tabTitle: false, notifications: false};
    this.silent = true;
    this.render(this.store);
  };

  /** Whether the ringtone is sounding now (for the tests and the UI). */
  Ringer.prototype.isPlaying = function () { return !!this.tone; };

  Ringer.prototype.render = function (store) {
    var self = this;
    var ringing = store.calls.filter(function (c) { return c.lineState === 'ringing'; });
    var ids = ringing.map(function (c) { return c.id; });
    ringing.forEach(function (call) {
      // Once, with the number as people write it (its format may take a moment).
      if (self.notified.has(call.id) || C.numberPending(C.callNumber(call))) return;
      self.notified.set(call.id, null);
      self._notify(call);
    });
    this.notified.forEach(function (n, id) {
      if (ids.indexOf(id) >= 0) return;
      try { if (n) n.close(); } catch (e) { /* already gone */ }
      self.notified.delete(id);
    });
    this.ringing = ids;
    this._title(ringing);
    if (ringing.length && this.settings.ringtone) this._play(); else this._stop();
    doc.body.dataset.ringing = ringing.length ? 'true' : 'false';
  };

  Ringer.prototype._title = function (ringing) {
    if (this.baseTitle === null || (!this.titled && doc.title !== this.baseTitle)) this.baseTitle = doc.title;
    if (ringing.length && this.settings.tabTitle) {
      var who = C.callTitle(ringing[ringing.length - 1]);
      doc.title = (ringing.length > 1 ? ringing.length + ' calls ringing' : 'Ringing: ' + who) + ' · ' + this.baseTitle;
      this.titled = true;
    } else if (this.titled) {
      doc.title = this.baseTitle;
      this.titled = false;
    }
  };

  Ringer.prototype._notify = function (call) {
    if (!this.settings.notifications || !global.Notification || global.Notification.permission !== 'granted') return;
    if (doc.visibilityState === 'visible' && doc.hasFocus()) return; // the agent sees the console
    try {
      var n = new global.Notification('Incoming call', {body: C.callTitle(call), tag: 'ctikit-call-' + call.id, requireInteraction: true});
      n.onclick = function () { try { global.focus(); } catch (e) { /* ignore */ } n.close(); };
      this.notified.set(call.id, n);
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  };

  Ringer.prototype._audio = function () {
    var Ctx = global.AudioContext || global.webkitAudioContext;
    if (!Ctx) return null;
    if (!this.audio) { try { this.audio = new Ctx(); } catch (e) { return null; } }
    if (this.audio.state === 'suspended') this.audio.resume().catch(function () { /* no gesture yet */ });
    if (this.ringing.length && this.settings.ringtone && !this.tone) this._play();
    return this.audio;
  };

  Ringer.prototype._play = function () {
    if (this.tone) return;
    var ctx = this.audio;
    if (!ctx || ctx.state !== 'running') { if (ctx) ctx.resume().catch(function () {}); if (!ctx || ctx.state !== 'running') return; }
    var gain = ctx.createGain();
    gain.gain.value = 0;
    gain.connect(ctx.destination);
    var oscillators = [440, 480].map(function (hz) {
      var o = ctx.createOscillator();
      o.frequency.value = hz;
      o.connect(gain);
      o.start();
      return o;
    });
    // The cadence, scheduled a minute at a time on the audio clock (exact even in a busy page).
    function schedule(from) {
      for (var t = 0; t < 60; t += PERIOD_S) {
        gain.gain.setValueAtTime(LEVEL, from + t);
        gain.gain.setValueAtTime(0, from + t + ON_S);
      }
    }
    var start = ctx.currentTime + 0.05;
    schedule(start);
    var n = 1;
    var timer = global.setInterval(function () { schedule(start + 60 * n++); }, 55000);
    this.tone = {gain: gain, oscillators: oscillators, timer: timer};
  };

  Ringer.prototype._stop = function () {
    if (!this.tone) return;
    var tone = this.tone;
    this.tone = null;
    global.clearInterval(tone.timer);
    tone.oscillators.forEach(function (o) { try { o.stop(); o.disconnect(); } catch (e) { /* stopped */ } });
    try { tone.gain.disconnect(); } catch (e) { /* ignore */ }
  };

  C.Ringer = Ringer;
})(window);
