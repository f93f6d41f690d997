/*
 * ctikit agent console: the REST API. The session is an HttpOnly cookie set by /api/login:
 * scripts never see it, the browser sends it.
 */
(function (global) {
  'use strict';

  /** fetch() JSON; resolves {status, ok, body} (never rejects on HTTP errors). */
  function api(path, options) {
    options = options || {};
    var headers = {'Accept': 'application/json'};
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    return global.fetch(path, {
      method: options.method || 'GET', headers: headers, credentials: 'same-origin', cache: 'no-store',
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined
    }).then(function (r) {
      return r.json().then(function (body) { return body; }, function () { return null; })
        .then(function (body) { return {status: r.status, ok: r.ok, body: body || {}}; });
    });
  }

  global.CtikitConsole.api = api;
})(window);
