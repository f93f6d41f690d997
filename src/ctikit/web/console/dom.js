/*
 * ctikit agent console: the namespace every console script adds to, and a small DOM helper.
 *
 * The console is plain scripts that index.html loads in order (no build step). Each adds its
 * part to window.CtikitConsole; boot.js, loaded last, puts the parts together.
 * connection.js and bridge.js stand alone (window.CtikitConnection, window.CtikitBridge).
 *
 * Data is shown with DOM nodes and textContent, never innerHTML. Identifiers that come from
 * outside (call IDs, agent IDs, data keys, event types) are data: they are kept in Maps and
 * Sets, never used as keys of plain objects, where "__proto__" or "toString" would be taken
 * for a property every object has.
 */
(function (global) {
  'use strict';

  var C = global.CtikitConsole = global.CtikitConsole || {};
  var doc = global.document;
  var hasOwn = Object.prototype.hasOwnProperty;

  /**
   * An element: h('button', {className, text, 'data-testid', onclick...}, children...).
   * `text` and text children become text nodes (no HTML parsing of data).
   */
  function h(tag, attrs) {
    var el = doc.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (!hasOwn.call(attrs, k)) continue;
        var v = attrs[k];
        if (v === null || v === undefined || v === false) continue;
        if (k === 'text') el.textContent = String(v);
        else if (k === 'className') el.className = v;
        else if (k === 'dataset') { for (var d in v) if (hasOwn.call(v, d)) el.dataset[d] = v[d]; }
        else if (k.slice(0, 2) === 'on' && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (v === true) el.setAttribute(k, '');
        else el.setAttribute(k, String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'object' ? child : doc.createTextNode(String(child)));
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function byId(id) { return doc.getElementById(id); }

  /** obj[key] if obj has it as its own property (not from its prototype), else undefined. */
  function own(obj, key) {
    return obj !== null && typeof obj === 'object' && hasOwn.call(obj, key) ? obj[key] : undefined;
  }

  C.h = h;
  C.clear = clear;
  C.byId = byId;
  C.own = own;
})(window);
