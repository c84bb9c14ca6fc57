// kcert connectathon: live updates without a reload (progressive enhancement).
// The pages work without this file; with it, matrix cells and instance facts follow the store
// through server-sent events, or by polling the JSON endpoints where EventSource is missing.
// No innerHTML: only textContent and class names change, so nothing from the store runs.
"use strict";
(function () {
  var MAX_POLLS = 720; // polling stops after this many looks (an hour at 5 s)

  function follow(el, onData) {
    var events = el.getAttribute("data-events");
    var poll = el.getAttribute("data-poll");
    var every = parseInt(el.getAttribute("data-poll-ms") || "5000", 10);
    if (window.EventSource && events) {
      var source = new EventSource(events);
      source.addEventListener("update", function (e) { onData(JSON.parse(e.data)); });
      source.addEventListener("gone", function () { source.close(); });
      source.addEventListener("busy", function () { source.close(); startPolling(); });
      return;
    }
    startPolling();
    function startPolling() {
      if (!poll || !window.fetch) { return; }
      var polls = 0;
      var timer = window.setInterval(function () {
        polls += 1;
        if (polls > MAX_POLLS) { window.clearInterval(timer); return; }
        window.fetch(poll, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) { if (data) { onData(data); } })
          .catch(function () { /* the next look tries again */ });
      }, every);
    }
  }

  function words(el) {
    var map = {};
    (el.getAttribute("data-words") || "").split(";").forEach(function (pair) {
      var i = pair.indexOf("=");
      if (i >= 0) { map[pair.slice(0, i)] = pair.slice(i + 1); }
    });
    return map;
  }

  function matrix(table) {
    var format = table.getAttribute("data-partners-format") || "{used}/{needed} ({available})";
    var note = document.querySelector(".live-note");
    if (note) { note.hidden = false; }
    follow(table, function (data) {
      table.setAttribute("data-fingerprint", data.fingerprint);
      data.cells.forEach(function (cell) {
        var td = null;
        table.querySelectorAll("td[data-key]").forEach(function (c) {
          if (c.getAttribute("data-key") === cell.key) { td = c; }
        });
        if (!td) { return; }
        ["verified", "waiting", "partial", "failed"].forEach(function (g) {
          var span = td.querySelector('[data-field="' + g + '"]');
          if (span) {
            span.textContent = String(cell[g]);
            span.classList.toggle("zero", !cell[g]);
          }
        });
        var partners = td.querySelector('[data-field="partners"]');
        if (partners) {
          partners.textContent = format.replace("{used}", cell.partners_used.length)
            .replace("{needed}", cell.partners_needed).replace("{available}", cell.partners_available);
        }
        td.classList.remove("has-failed", "has-open", "all-verified");
        if (cell.failed) { td.classList.add("has-failed"); }
        else if (cell.waiting || cell.partial) { td.classList.add("has-open"); }
        else if (cell.verified) { td.classList.add("all-verified"); }
      });
    });
  }

  function instance(facts) {
    var first = facts.getAttribute("data-shape");
    follow(facts, function (data) {
      facts.setAttribute("data-fingerprint", data.fingerprint);
      ["status", "outcome", "grade", "claimed_by"].forEach(function (name) {
        var el = facts.querySelector('[data-field="' + name + '"]');
        if (!el) { return; }
        var value = data[name] || "";
        var map = words(el);
        el.textContent = (value in map) ? map[value] : (value || "—");
        if (name === "grade") { el.className = "grade grade-" + value; }
      });
      var shape = data.steps.length + ":" + data.exchanges.length + ":" + data.grades;
      var changed = document.querySelector(".live-changed");
      if (changed && shape !== first) { changed.hidden = false; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("matrix");
    if (table) { matrix(table); }
    var facts = document.getElementById("instance-facts");
    if (facts) { instance(facts); }
  });
})();
