/*
 * ctikit agent console: boot. Finds out who is signed in and whose console this is, then
 * puts the parts together: one connection, the component host (bridge), the call store,
 * the views that render it, and the console config (components, directory, read-only).
 *
 * window.CtikitConsole afterwards also holds the running parts (conn, store, host, bridge,
 * softphone, log, workspace, notices, config), for the tests and for debugging;
 * CtikitConsole.workspace is also the tabs' API for the console's other parts (workspace.js).
 * A new view is made in assemble() and added to the list renderOnChange() renders.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var byId = C.byId;
  var doc = global.document;
  var AGENT_ID = /^[A-Za-z0-9._@+-]{1,64}$/;
  var TICK_MS = 1000;

  function boot() {
    C.notices = new C.Notices(byId('notices'));
    var agentParam = new URLSearchParams(global.location.search).get('agent') || '';
    C.session.begin(agentParam, start);
  }

  function start(agent, who) {
    var session = new C.Session(who);
    C.header.agent(agent);
    session.showUser();
    if (!AGENT_ID.test(agent)) { refuse(agent); return; }
    showAgentInUrl(agent);
    doc.title = agent + ' · ctikit console';

    var parts = assemble(agent, session);
    Object.assign(C, parts, {agent: agent, who: session.who});
    parts.conn.start();
    loadConfig(agent, parts.conn, session).then(function (cfg) {
      if (cfg) applyConfig(cfg, agent, parts);
    }).catch(function (e) {
      C.notices.show('error', 'Could not load the console configuration (' + e.message + '); components are not shown.',
        {testid: 'config-error'});
    });
    global.setInterval(function () { parts.softphone.tick(); parts.agentState.tick(); }, TICK_MS); // live timers
  }

  /** The running console: one connection, and everything that listens to it. */
  function assemble(agent, session) {
    var conn = new global.CtikitConnection({url: socketUrl(global.location.origin, agent)}); // the session cookie goes with it
    // The component host first: the bridge posts each event to the components before the
    // store and the views see it.
    var host = new C.ComponentHost({connection: conn, root: byId('components'), empty: byId('components-empty')});
    var store = new C.Store(conn);
    store.follow(conn);
    var banners = new C.Banners(C.notices);
    conn.onEvent(function (frame) { banners.event(frame); });
    conn.onStatus(function (status) { C.header.status(status); });
    session.watch(conn);
    C.header.status(conn.status);
    C.header.bindSimulate(conn, C.notices);
    var agentState = new C.AgentStateSelector({conn: conn, root: byId('agent-state-box'), notices: C.notices});
    var softphone = new C.Softphone({
      store: store, conn: conn, notices: C.notices,
      linesRoot: byId('lines'),
      noCalls: byId('no-calls'),
      announcer: byId('announcer'),
      dialForm: byId('dialpad'),
      dialInput: byId('dial-input'),
      dialKeypad: byId('dial-keypad'),
      dialKeypadToggle: byId('dial-keypad-toggle'),
      transferTargets: byId('transfer-targets')
    });
    var log = new C.InteractionLog({store: store, conn: conn, root: byId('interaction-log')});
    var outcomes = new C.Outcomes({
      store: store, notices: C.notices, list: byId('missed-list'), box: byId('missed-box'), count: byId('missed-count'),
      dial: function (number) { return softphone.dial(number); },
      focusCallTo: function (number) { softphone.focusCallTo(number); }
    });
    softphone.outcomes = outcomes;
    var ringer = new C.Ringer({store: store});
    C.onNumbersFormatted(function () { store._changed(null); }); // numbers now shown formatted
    var keyboard = new C.Keyboard({
      softphone: softphone, list: byId('shortcut-list'), toggle: byId('shortcuts-toggle'), panel: byId('shortcuts-panel')
    });
    conn.onEvent(function (frame) { outcomes.event(frame); });
    var workspace = new C.Workspace({root: byId('tabs'), bridge: host.bridge, agent: agent});
    if (host.bridge) new C.TabApi({workspace: workspace, bridge: host.bridge}); // sforce.console's tab methods
    var pops = new C.ScreenPops({store: store, workspace: workspace, notices: C.notices, agent: agent});
    var openCti = new C.OpenCtiPanel({root: byId('components'), bridge: host.bridge, conn: conn, workspace: workspace,
      notices: C.notices});
    renderOnChange(store, [softphone, log, banners, C.header, pops, outcomes, ringer]);
    return {conn: conn, store: store, host: host, bridge: host.bridge, softphone: softphone, log: log,
      workspace: workspace, pops: pops, openCti: openCti, agentState: agentState, outcomes: outcomes,
      ringer: ringer, keyboard: keyboard};
  }

  /** What the console config says: read-only, the line, cluster nodes, directory, components. */
  function applyConfig(cfg, agent, parts) {
    C.config = cfg;
    var readOnly = Boolean(cfg.user && cfg.user.readOnly);
    if (readOnly) { setReadOnly(agent, parts); parts.agentState.setReadOnly(); }
    if (!readOnly && cfg.connector && cfg.connector.name === 'webrtc') startPhone(parts);
    if (cfg.connector) parts.store.setConnector(cfg.connector);
    if (Array.isArray(cfg.nodes)) {
      parts.conn.setUrls(cfg.nodes.map(function (n) { return socketUrl(String(n), agent); }));
    }
    if (cfg.demo) {
      var hint = C.notices.show('info', 'Demo mode: press "Simulate call" to make a test call ring on this console.', {testid: 'demo-hint'});
      hint.querySelector('.notice-text').append(' ', C.h('a', {href: '/supervisor', target: '_blank', rel: 'noopener',
        'data-testid': 'demo-supervisor-link', text: 'Open the supervisor view'}), '.');
    }
    C.header.agentDetail(cfg.agents, agent);
    parts.softphone.setDirectory(cfg.agents, agent);
    parts.host.add(cfg.components);
    parts.openCti.configure(cfg.openCti);
    if (cfg.openCti) byId('components-empty').hidden = true;
    var ws = cfg.workspace || {};
    // Tabs may show the softphone's and the record URL's sites too (screenPop).
    var sites = cfg.openCti ? [cfg.openCti.softphoneUrl, cfg.openCti.recordUrl].filter(Boolean) : [];
    parts.workspace.configure({components: (cfg.components || []).concat(sites.map(function (u) { return {url: u}; })),
      allowedOrigins: ws.allowedOrigins});
    parts.pops.configure(ws.screenPops);
    var desk = cfg.console || {};
    if (Array.isArray(desk.dispositions)) parts.log.setDispositions(desk.dispositions, desk.otherDisposition !== false);
    parts.ringer.configure(desk);
    parts.keyboard.configure(desk.shortcuts);
  }

  /** The browser is the agent's phone (docs/webrtc.md): SIP.js loads only then. */
  function startPhone(parts) {
    import('/static/console/webphone.js').then(function (m) {
      parts.phone = m.start({conn: parts.conn, notices: C.notices, statusEl: byId('phone-status')});
    }).catch(function (e) {
      C.notices.show('error', 'The phone could not start in this browser (' + e.message + ').', {testid: 'phone-error'});
    });
  }

  /** ws(s)://host/ws?agent=... from an http(s) origin. */
  function socketUrl(origin, agent) {
    return origin.replace(/^http/, 'ws') + '/ws?agent=' + encodeURIComponent(agent);
  }

  /** No agent, or not a valid agent ID: say how to open the console, and go no further. */
  function refuse(agent) {
    C.header.stuck('No agent');
    C.notices.show('error', agent
      ? 'Invalid agent ID. Use 1–64 letters, digits and . _ @ + -'
      : 'No agent ID: open this console as /console?agent=YOUR_ID', {dismissable: false, testid: 'agent-error'});
  }

  /** The agent came from the session: put it in the URL, so a reload opens the same console. */
  function showAgentInUrl(agent) {
    if (new URLSearchParams(global.location.search).get('agent') === agent) return;
    try { global.history.replaceState(null, '', '/console?agent=' + encodeURIComponent(agent)); } catch (e) { /* ignore */ }
  }

  /**
   * Render once per animation frame, however many events arrived: the bridge has already
   * posted each event to the components, and their handlers should not wait for our layout
   * (bench/PROPOSALS.md #6). A hidden tab gets no animation frames: a timer stands in.
   * Each view has render(store); one that fails does not stop the others.
   */
  function renderOnChange(store, views) {
    var pending = false;
    function renderNow() {
      if (!pending) return;
      pending = false;
      views.forEach(function (view) {
        try { view.render(store); } catch (e) { console.error('ctikit console: render failed', e); }
      });
    }
    store.subscribe(function () {
      if (pending) return;
      pending = true;
      if (global.requestAnimationFrame) global.requestAnimationFrame(renderNow);
      global.setTimeout(renderNow, 100);
    });
  }

  /** The console config; null (having said why) when this console may not open. */
  function loadConfig(agent, conn, session) {
    return C.api('/api/console/config?agent=' + encodeURIComponent(agent)).then(function (res) {
      var cfg = res.body || {};
      if (res.status === 401) { session.lost(); return null; }
      if (res.status === 403) {
        conn.stop();
        C.header.stuck('Not allowed');
        C.notices.show('error', cfg.error || ('You may not open the console of ' + agent + '.'),
          {testid: 'forbidden', dismissable: false});
        return null;
      }
      if (!res.ok || cfg.success === false) throw new Error(cfg.error || ('HTTP ' + res.status));
      return cfg;
    });
  }

  /** A supervisor watching an agent's console: everything shows, nothing can be changed. */
  function setReadOnly(agent, parts) {
    C.header.setReadOnly();
    parts.log.setReadOnly();
    parts.softphone.setReadOnly();
    parts.outcomes.setReadOnly();
    parts.ringer.silence();
    parts.keyboard.setReadOnly();
    C.notices.show('info', 'You are watching ' + agent + "'s console: read-only.", {testid: 'read-only-hint'});
  }

  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', boot);
  else boot();
})(window);
