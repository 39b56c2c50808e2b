// Keeps the dashboard current: countdowns tick every second, and the live
// part of a page ([data-live]) is fetched again every few seconds and
// swapped for the server's new rendering (escaped there, like any page),
// and deleting dead letters asks first. When the server or Redis cannot
// be reached, the page says so and keeps what it last showed, dimmed.
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

  // Why a refresh failed, as the operator should read it.
  function Lost(message) { this.message = message; }

  // Shows (or, with null, hides) the connection alert.
  function connection(message) {
    var alert = document.querySelector(".connection");
    var live = document.querySelector("[data-live]");
    if (!alert || !live) return;
    if (message === null) {
      alert.hidden = true;
      live.classList.remove("stale");
      return;
    }
    alert.textContent = message + " Showing the page as of its time below; retrying.";
    alert.hidden = false;
    live.classList.add("stale");
  }

  // What the operator had open or scrolled stays so across a swap.
  function carryOver(old, fresh) {
    old.querySelectorAll("tr[data-run] details[open]").forEach(function (d) {
      var run = d.closest("tr").dataset.run;
      fresh.querySelectorAll("tr[data-run] details").forEach(function (f) {
        if (f.closest("tr").dataset.run === run) f.open = true;
      });
    });
  }
  // Scroll positions apply once the new part is on the page.
  function scrolls(el) {
    return Array.prototype.map.call(el.querySelectorAll(".scroll"), function (box) { return box.scrollLeft; });
  }
  function restoreScrolls(el, lefts) {
    el.querySelectorAll(".scroll").forEach(function (box, i) { if (lefts[i]) box.scrollLeft = lefts[i]; });
  }

  var busy = false;
  function refresh() {
    var live = document.querySelector("[data-live]");
    if (!live || busy || document.hidden) return;
    busy = true;
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, 10000);
    // location.origin never carries credentials, which fetch refuses.
    fetch(location.origin + location.pathname, { credentials: "same-origin", signal: abort.signal })
      .then(function (r) {
        if (r.status === 503) throw new Lost("Redis cannot be reached.");
        if (r.status === 401) throw new Lost("The dashboard asks to sign in again: reload the page.");
        if (!r.ok) throw new Lost("The dashboard answered " + r.status + ".");
        return r.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("[data-live]");
        if (!fresh) throw new Lost("The dashboard answered with another page.");
        fresh = document.adoptNode(fresh);
        carryOver(live, fresh);
        var lefts = scrolls(live);
        live.replaceWith(fresh);
        restoreScrolls(fresh, lefts);
        connection(null);
        tick();
      })
      .catch(function (e) {
        connection(e instanceof Lost ? e.message : "The dashboard server cannot be reached.");
      })
      .finally(function () { clearTimeout(timer); busy = false; });
  }

  // A form with data-confirm asks before it is sent (deleting letters).
  document.addEventListener("submit", function (e) {
    var question = e.target.dataset && e.target.dataset.confirm;
    if (question && !window.confirm(question)) e.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    var live = document.querySelector("[data-live]");
    if (live) setInterval(refresh, 1000 * (Number(live.dataset.refresh) || 5));
  });
})();
