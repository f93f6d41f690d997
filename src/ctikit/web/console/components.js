/*
 * ctikit agent console: the component host. One slot (a titled iframe) per configured
 * component; the bridge (bridge.js) loads each with its nonce and carries its API calls.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole;
  var h = C.h;
  var MIN_HEIGHT = 50, MAX_HEIGHT = 4000;

  /** opts: {connection, root, empty}. Create it before anything else listens for events. */
  function ComponentHost(opts) {
    this.root = opts.root;
    this.empty = opts.empty;
    this.bridge = null;
    if (typeof global.CtikitBridge === 'function') {
      try { this.bridge = new global.CtikitBridge({connection: opts.connection, consoleOrigin: global.location.origin}); }
      catch (e) { console.error('ctikit console: bridge failed to start', e); }
    }
  }

  /** Add the components the console config lists ({name, url, height}). */
  ComponentHost.prototype.add = function (components) {
    var list = Array.isArray(components) ? components : [];
    this.empty.hidden = list.length > 0;
    list.forEach(this._addOne, this);
  };

  ComponentHost.prototype._addOne = function (comp) {
    var url = componentUrl(comp);
    if (!url) {
      console.warn('ctikit console: skipping component with a bad URL', comp);
      return;
    }
    var name = String(comp.name || comp.url);
    var iframe = h('iframe', {
      className: 'component-frame', title: name, name: name,
      'data-testid': 'component-frame-' + name, loading: 'eager'
    });
    var slot = h('section', {className: 'slot', 'data-testid': 'component-' + name, 'aria-label': name},
      h('h2', {className: 'slot-title', text: name}),
      iframe);
    var height = Number(comp.height);
    if (height >= MIN_HEIGHT && height <= MAX_HEIGHT) iframe.style.height = height + 'px';
    this.root.appendChild(slot);
    if (!this.bridge) {
      slot.appendChild(h('p', {className: 'slot-error', text: 'Component bridge unavailable: ' + name + ' cannot be loaded.'}));
      return;
    }
    try { this.bridge.addComponent(iframe, url.href); }
    catch (e) { console.error('ctikit console: bridge refused component', name, e); }
  };

  /** The component's URL if it is http(s), else null. */
  function componentUrl(comp) {
    var url;
    try { url = comp && typeof comp.url === 'string' ? new URL(comp.url, global.location.href) : null; }
    catch (e) { return null; }
    return url && (url.protocol === 'http:' || url.protocol === 'https:') ? url : null;
  }

  C.ComponentHost = ComponentHost;
})(window);
