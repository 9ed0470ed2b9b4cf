// Wallcast dashboard: listens to the server's /stats stream.
(function () {
  "use strict";
  var state = document.getElementById("state");
  function set(id, v) { document.getElementById(id).textContent = v; }
  function duration(s) {
    s = parseInt(s, 10);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + " h " : "") + (h || m ? m + " min " : "") + (s % 60) + " s";
  }
  var src = new EventSource("/stats");
  src.onopen = function () { state.textContent = "live"; state.className = "state ok"; };
  src.onerror = function () { state.textContent = "reconnecting…"; state.className = "state bad"; };
  src.addEventListener("connections", function (e) { set("connections", e.data); });
  src.addEventListener("requests", function (e) { set("requests", e.data); });
  src.addEventListener("uptime", function (e) { set("uptime", duration(e.data)); });
  src.addEventListener("sources", function (e) {
    var rows = document.getElementById("sources");
    rows.textContent = "";
    var list = [];
    try { list = JSON.parse(e.data) || []; } catch (_) {}
    list.forEach(function (s) {
      var tr = document.createElement("tr");
      [s.name, s.type, s.state, s.last_post ? new Date(s.last_post).toLocaleTimeString() : "–",
       String(s.errors), s.last_error || ""].forEach(function (v, i) {
        var td = document.createElement("td");
        td.textContent = v;
        if (i === 2) td.className = "state-" + s.state;
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
  });
})();
