// Keeps the dashboard's countdowns current. Everything else is server-rendered.
"use strict";
(function () {
  function words(secs) {
    var d = Math.floor(secs / 86400), h = Math.floor(secs / 3600) % 24,
        m = Math.floor(secs / 60) % 60, s = secs % 60;
    var pad = function (n) { return n < 10 ? "0" + n : String(n); };
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + pad(m) + "m";
    if (m > 0) return m + "m " + pad(s) + "s";
    return s + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-at]").forEach(function (el) {
      var secs = Math.round((Date.parse(el.dataset.at) - now) / 1000);
      el.textContent = secs > 0 ? "in " + words(secs) : secs === 0 ? "due now" : "due " + words(-secs) + " ago";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
})();
