/*
 * ctikit agent console: the Open CTI softphone panel (docs/open-cti.md).
 *
 * Loads the configured softphone page ([open_cti] softphone_url) in an iframe, the way
 * Salesforce loads a call center's adapter URL: with mode=Lightning and sfdcIframeOrigin (and
 * the Visualforce spelling sfdcIFrameOrigin) added to its query, and, through the bridge, the
 * ctiConsoleOrigin and nonce every component gets. The page shows at once: the panel does not
 * wait for notifyInitializationComplete (that only ends its "starting" state).
 *
 * Both scripts (opencti.js for Lightning, interaction.js for Classic) send one console op,
 * `openCti` {method, args}, answered here; only the panel's own frame may use it. The
 * bridge's other ops work in the panel too, so a softphone that also includes integration.js
 * reports its calls with fireOnCallBegin / fireOnCallEnd like any component.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var doc = global.document;

  /** opts: {root, bridge, conn, workspace, notices}. */
  function OpenCtiPanel(opts) {
    this.root = opts.root;
    this.bridge = opts.bridge;
    this.conn = opts.conn;
    this.ws = opts.workspace;
    this.notices = opts.notices;
    this.cfg = null;
    this.visible = true;
    this.initialized = false;
    this.watching = false;
    this.objectTypes = new Map(); // tab ID -> object type of the record it shows
    var self = this;
    this.handlers = new Map([
      ['saveLog', this._saveLog], ['screenPop', this._screenPop], ['searchAndScreenPop', this._search],
      ['enableClickToDial', function () { self.clickToDial.set(true); return null; }],
      ['disableClickToDial', function () { self.clickToDial.set(false); return null; }],
      ['setVisible', function (a) { self.setVisible(a.visible === true); return null; }],
      ['isVisible', function () { return self.visible; }],
      ['setHeight', function (a) { self._size('height', a.px, [240, 2560]); return null; }],
      ['setWidth', function (a) { self._size('width', a.px, [200, 1920]); return null; }],
      ['setLabel', function (a) { self.title.textContent = text(a.text); return null; }],
      ['setItemLabel', function (a) { self.toggleLabel.textContent = text(a.text); return null; }],
      ['setIcon', function (a) { self.icon.textContent = text(a.text); self.el.dataset.icon = text(a.text); return null; }],
      ['setItemIcon', function (a) { self.toggle.dataset.icon = text(a.text); return null; }],
      ['getCallCenterSettings', function () { return plain(self.cfg.settings); }],
      ['getSoftphoneLayout', this._layout],
      ['getDirectoryNumbers', this._directory],
      ['getAppViewInfo', this._appView],
      ['watchNavigation', function () { self._watch(); return null; }],
      ['refreshView', this._refresh],
      ['runApex', this._apex],
      ['isInConsole', function () { return true; }],
      ['initialized', function () { self._initialized(); return null; }],
    ]);
    this.clickToDial = new ClickToDial(function (payload) { self._post('clickToDial', payload); });
    C.clickToDial = this.clickToDial;
  }

  function text(v) { return typeof v === 'string' ? v.slice(0, 255) : ''; }

  // An object with the map's entries as own data properties (keys from the config are data).
  function plain(map) {
    var out = {};
    Object.keys(map || {}).forEach(function (k) {
      Object.defineProperty(out, k, { value: map[k], enumerable: true, writable: true, configurable: true });
    });
    return out;
  }

  /** Build the panel from the console config's openCti (null: no softphone configured). */
  OpenCtiPanel.prototype.configure = function (cfg) {
    if (!cfg || typeof cfg.softphoneUrl !== 'string' || !this.bridge) return;
    this.cfg = cfg;
    var url;
    try { url = new URL(cfg.softphoneUrl, global.location.href); } catch (e) { return; }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
    this.origin = url.origin;
    this._build(cfg);
    var self = this;
    this.bridge.handleLocally(new Map([['openCti', ['method', 'args']]]), function (op, fields, from) {
      return self._handle(fields, from);
    });
    this.bridge.addComponent(this.frame, withParams(url, global.location.origin), { softphone: true });
  };

  // Salesforce's parameters, after the page's own query (joined with &).
  function withParams(url, origin) {
    var extra = 'mode=Lightning&sfdcIframeOrigin=' + encodeURIComponent(origin) +
      '&sfdcIFrameOrigin=' + encodeURIComponent(origin);
    var out = new URL(url.href);
    out.search = out.search && out.search !== '?' ? out.search + '&' + extra : '?' + extra;
    return out.href;
  }

  OpenCtiPanel.prototype._build = function (cfg) {
    var self = this;
    this.title = h('span', { className: 'softphone-panel-label', 'data-testid': 'softphone-panel-label', text: cfg.label });
    this.icon = h('span', { className: 'softphone-panel-icon', 'aria-hidden': 'true', 'data-testid': 'softphone-panel-icon' });
    this.toggleLabel = h('span', { text: cfg.label });
    this.toggle = h('button', { type: 'button', className: 'btn btn-sm btn-ghost', 'data-testid': 'softphone-panel-toggle',
      'aria-expanded': 'true', 'aria-controls': 'softphone-panel-body',
      onclick: function () { self.setVisible(!self.visible); } }, this.toggleLabel);
    this.status = h('span', { className: 'softphone-panel-status', 'data-testid': 'softphone-panel-status', role: 'status', text: 'Starting…' });
    this.frame = h('iframe', { className: 'component-frame softphone-frame', title: cfg.label, 'data-testid': 'softphone-frame',
      allow: 'microphone; autoplay' });
    this.body = h('div', { id: 'softphone-panel-body', className: 'softphone-panel-body' }, this.frame);
    this.el = h('section', { className: 'slot softphone-panel', 'data-testid': 'softphone-panel', 'aria-label': 'Softphone panel',
      'data-state': 'loading', 'aria-busy': 'true' },
      h('h2', { className: 'slot-title' }, this.icon, this.title, ' ', this.status, ' ', this.toggle),
      this.body);
    this._size('height', cfg.height, [240, 2560]);
    this._size('width', cfg.width, [200, 1920]);
    this.root.insertBefore(this.el, this.root.firstChild);
  };

  OpenCtiPanel.prototype.setVisible = function (visible) {
    this.visible = visible;
    this.body.hidden = !visible;
    this.el.dataset.visible = visible ? 'true' : 'false';
    this.toggle.setAttribute('aria-expanded', visible ? 'true' : 'false');
  };

  OpenCtiPanel.prototype._size = function (which, px, range) {
    if (typeof px !== 'number' || px < range[0] || px > range[1]) throw new Error(which + ' out of range');
    if (which === 'height') this.frame.style.height = px + 'px';
    else this.el.style.maxWidth = this.el.style.width = px + 'px';
    this.el.dataset[which] = String(px);
  };

  OpenCtiPanel.prototype._initialized = function () {
    this.initialized = true;
    this.el.dataset.state = 'ready';
    this.el.removeAttribute('aria-busy');
    this.status.textContent = '';
  };

  // ------------------------------------------------------------------ requests

  OpenCtiPanel.prototype._handle = function (fields, from) {
    if (!from || from.softphone !== true) {
      return { success: false, error: 'only the softphone panel may use Open CTI' };
    }
    var method = typeof fields.method === 'string' ? fields.method : '';
    var fn = this.handlers.get(method);
    if (!fn) return { success: false, error: 'unknown Open CTI method ' + JSON.stringify(method.slice(0, 60)) };
    var args = fields.args !== null && typeof fields.args === 'object' ? fields.args : {};
    try {
      return Promise.resolve(fn.call(this, args, from)).then(function (value) {
        return value && value.failed ? { success: false, error: value.failed } : { success: true, returnValue: value };
      }, function (err) {
        return { success: false, error: (err && err.message) || String(err) };
      });
    } catch (err) {
      return { success: false, error: (err && err.message) || String(err) };
    }
  };

  // A server request; its response, or a rejection with the server's error.
  OpenCtiPanel.prototype._server = function (op, fields) {
    return this.conn.request(op, fields).then(function (r) {
      if (!r || r.success !== true) throw new Error((r && r.error) || 'the server refused');
      return r;
    });
  };

  OpenCtiPanel.prototype._saveLog = function (a) {
    return this._server('saveOpenCtiLog', { entity: a.entity, fields: a.fields, logId: a.id }).then(function (r) {
      return { id: r.logId };
    });
  };

  // The URL of a record: the configured template with {recordId} and {objectType}.
  OpenCtiPanel.prototype._recordUrl = function (recordId, objectType) {
    var t = this.cfg.recordUrl;
    if (!t) return null;
    return t.split('{recordId}').join(encodeURIComponent(recordId))
      .split('{objectType}').join(encodeURIComponent(objectType || ''));
  };

  OpenCtiPanel.prototype._popRecord = function (recordId, objectType, title) {
    var url = this._recordUrl(recordId, objectType);
    if (!url) return { failed: 'no record URL is configured ([open_cti] record_url): records cannot open' };
    var id = this.ws.openPrimaryTab({ url: url, title: title || recordId, objectId: recordId, focus: true });
    if (objectType) this.objectTypes.set(id, objectType);
    return id;
  };

  OpenCtiPanel.prototype._screenPop = function (a) {
    var p = a.params || {};
    switch (a.type) {
      case 'sobject':
        if (typeof p.recordId !== 'string' || p.recordId === '') return { failed: 'params.recordId must be a non-empty string' };
        var id = this._popRecord(p.recordId, typeof p.objectType === 'string' ? p.objectType : null, null);
        return id && id.failed ? id : null;
      case 'url': {
        if (typeof p.url !== 'string' || p.url === '') return { failed: 'params.url must be a non-empty string' };
        // Softphones pop Salesforce-relative URLs ("/003...", "/lightning/r/..."): those are
        // on the record URL's site (the softphone's when none is configured).
        var base = this.cfg.recordUrl || this.cfg.softphoneUrl;
        this.ws.openPrimaryTab({ url: p.url, base: new URL(base, global.location.href).href, focus: true });
        return null;
      }
      default:
        return { failed: 'screenPop type ' + JSON.stringify(String(a.type)) + ' has no equivalent in ctikit' };
    }
  };

  OpenCtiPanel.prototype._search = function (a) {
    var self = this;
    return this._server('openCtiSearch', { searchParams: a.searchParams, queryParams: a.queryParams, callType: a.callType })
      .then(function (r) {
        var matches = r.matches || {};
        var ids = Object.keys(matches);
        if (!a.deferred && ids.length === 1) {
          var m = matches[ids[0]];
          var popped = self._popRecord(ids[0], m.RecordType || m.objectType || null, typeof m.Name === 'string' ? m.Name : null);
          if (popped && popped.failed) return popped;
        }
        return matches;
      });
  };

  OpenCtiPanel.prototype._apex = function (a) {
    return this._server('openCtiApex', { apexClass: a.apexClass, methodName: a.methodName, methodParams: a.methodParams })
      .then(function (r) { return { runApex: r.returnValue === undefined ? null : r.returnValue }; });
  };

  OpenCtiPanel.prototype._layout = function () {
    var layout = this.cfg.layout || {};
    var out = {};
    ['Inbound', 'Outbound', 'Internal'].forEach(function (type) {
      var objects = {};
      (layout[type] || []).forEach(function (name) {
        Object.defineProperty(objects, name, { value: [{ apiName: 'Name', displayName: 'Name' }], enumerable: true });
      });
      out[type] = { objects: objects, screenPopsOpenWithin: 'ExistingWindow' };
    });
    return out;
  };

  OpenCtiPanel.prototype._directory = function () {
    var agents = (C.config && C.config.agents) || [];
    return agents.filter(function (a) { return a && a.extension; }).map(function (a) {
      return { name: a.name || a.id, number: a.extension };
    });
  };

  OpenCtiPanel.prototype._appView = function (a) {
    var f = this.ws.getFocused();
    var tab = f.subtabId ? this.ws.tab(f.subtabId) : null;
    var type = f.primaryId ? this.objectTypes.get(f.primaryId) || null : null;
    var info = { url: tab ? tab.url : global.location.href, recordId: (tab && tab.objectId) || null,
      recordName: tab ? tab.title : null, objectType: type };
    if (a && a.classic) return { url: info.url, objectId: info.recordId || '', object: type || '', objectName: info.recordName || '' };
    return info;
  };

  OpenCtiPanel.prototype._refresh = function () {
    var f = this.ws.getFocused();
    if (!f.subtabId) return { failed: 'no tab is open to refresh' };
    this.ws.refreshTab(f.subtabId);
    return null;
  };

  OpenCtiPanel.prototype._watch = function () {
    if (this.watching) return;
    this.watching = true;
    var self = this;
    this.ws.onFocusChange(function () { self._post('navigationChange', self._appView({})); });
  };

  OpenCtiPanel.prototype._post = function (type, payload) {
    this.bridge.post('openCti', { type: type, payload: payload }, function (c) { return c.softphone === true; });
  };

  // ------------------------------------------------------------------ click-to-dial

  /**
   * Numbers the console shows (elements with data-dial-number: the call lines) become dial
   * targets while a softphone has click-to-dial on; a click or Enter sends
   * {number, recordId, recordName, objectType} to its onClickToDial listeners.
   */
  function ClickToDial(send) {
    this.on = false;
    this.send = send;
    var self = this;
    function fire(ev) {
      if (!self.on) return;
      var el = ev.target && ev.target.closest ? ev.target.closest('[data-dial-number]') : null;
      if (!el) return;
      if (ev.type === 'keydown' && ev.key !== 'Enter' && ev.key !== ' ') return;
      ev.preventDefault();
      send({ number: el.dataset.dialNumber, recordId: el.dataset.recordId || null,
        recordName: el.dataset.recordName || null, objectType: el.dataset.objectType || null });
    }
    doc.addEventListener('click', fire);
    doc.addEventListener('keydown', fire);
  }

  ClickToDial.prototype.set = function (on) {
    this.on = on;
    doc.body.dataset.clickToDial = on ? 'on' : 'off';
    var self = this;
    Array.prototype.forEach.call(doc.querySelectorAll('[data-dial-number]'), function (el) { self.mark(el); });
  };

  /** Make `el` a dial target (or not) as click-to-dial is on (or off). */
  ClickToDial.prototype.mark = function (el) {
    if (this.on && el.dataset.dialNumber) {
      el.setAttribute('role', 'button');
      el.setAttribute('tabindex', '0');
      el.setAttribute('title', 'Call ' + el.dataset.dialNumber);
      el.classList.add('dial-target');
    } else {
      el.removeAttribute('role');
      el.removeAttribute('tabindex');
      el.removeAttribute('title');
      el.classList.remove('dial-target');
    }
  };

  C.OpenCtiPanel = OpenCtiPanel;
})(window);
