/*
 * Test softphones' shared loader and recorder (not part of any API): loads the scripts the
 * page lists in order, from the version in ?v=, then calls window.start(). SP.log keeps what
 * happened for the tests to read.
 */
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  window.SP = { params: {}, log: [], ready: false, errors: [] };
  ['mode', 'sfdcIframeOrigin', 'sfdcIFrameOrigin', 'ctiConsoleOrigin', 'nonce'].forEach(function (k) {
    SP.params[k] = params.get(k);
  });
  SP.record = function (what, value) {
    SP.log.push({ what: what, value: JSON.parse(JSON.stringify(value === undefined ? null : value)) });
  };
  SP.load = function (scripts, done) {
    var i = 0;
    (function next() {
      if (i >= scripts.length) return done();
      var s = document.createElement('script');
      s.src = scripts[i++];
      s.onload = next;
      s.onerror = function () { SP.errors.push('could not load ' + s.src); next(); };
      document.head.appendChild(s);
    })();
  };
})();
