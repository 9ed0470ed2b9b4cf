// Wallcast moderation console: the wall's queue, live over SSE, moderated
// with one click or a key.
(function () {
  "use strict";
  var slug = document.body.dataset.wall;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var lists = { pending: byId("pending"), visible: byId("visible"), rejected: byId("rejected") };
  var items = new Map(); // post id -> {item, li}
  var selected = null;
  var picked = new Set(); // ids selected for a bulk action
  var lastId = 0;

  function byId(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function flash(msg) { byId("flash").textContent = msg || ""; }

  function api(path, body) {
    return fetch("/admin/api/walls/" + encodeURIComponent(slug) + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      if (r.status === 401) { location.href = "/admin/login?next=" + encodeURIComponent(location.pathname); }
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); flash(""); refreshAudit(); return j; });
    }).catch(function (e) { flash(e.message); });
  }

  function act(id, action) { return api("/posts/" + encodeURIComponent(id) + "/" + action).then(offerUndo(action, 1)); }

  // bulk applies an action to the picked posts in one request.
  function bulk(action) {
    var ids = Array.from(picked);
    if (!ids.length) return Promise.resolve();
    return api("/bulk", { action: action, ids: ids }).then(function (j) {
      clearPicked();
      return offerUndo(action, j && j.posts)(j);
    });
  }

  // offerUndo shows, for 10 s, a way to take an action back.
  var undoToken = "", undoTimer = null;
  function offerUndo(action, n) {
    return function (j) {
      if (!j || !j.undo) return j;
      if (n == null) n = j.posts || 0;
      undoToken = j.undo;
      var box = byId("undo");
      box.querySelector("span").textContent = action + ": " + n + (n === 1 ? " post" : " posts");
      box.hidden = false;
      clearTimeout(undoTimer);
      undoTimer = setTimeout(function () { box.hidden = true; undoToken = ""; }, 10000);
      return j;
    };
  }
  function undo() {
    if (!undoToken) return;
    var t = undoToken;
    undoToken = "";
    byId("undo").hidden = true;
    api("/undo", { token: t }).then(function (j) { if (j) flash("undone: " + j.posts + " posts"); });
  }
  byId("undo").querySelector("button").addEventListener("click", undo);

  // --- show control ---
  var showState = {};
  function renderShow(s) {
    showState = s || {};
    var parts = [];
    if (showState.paused) parts.push("paused");
    if (showState.feature && Date.parse(showState.until) > Date.now()) parts.push("featuring " + ((showState.feature.author || {}).name || showState.feature.id));
    if (showState.slide) parts.push("holding slide");
    byId("show-state").textContent = parts.length ? parts.join(" · ") : "live";
    byId("show-pause").textContent = showState.paused ? "resume (s)" : "pause (s)";
  }
  function showAction(body) { return api("/show", body).then(function (s) { if (s) renderShow(s); }); }
  function featureSelected() {
    if (!selected) return;
    showAction({ action: "feature", id: selected.dataset.id, seconds: parseInt(byId("feature-secs").value, 10) || 15 });
  }
  function toggleSlide() {
    if (showState.slide) { showAction({ action: "unslide" }); return; }
    var f = byId("slide");
    showAction({ action: "slide", text: f.text.value, image: f.image.value });
  }
  byId("show-pause").addEventListener("click", function () { showAction({ action: showState.paused ? "resume" : "pause" }); });
  byId("show-feature").addEventListener("click", featureSelected);
  byId("show-unfeature").addEventListener("click", function () { showAction({ action: "unfeature" }); });
  byId("show-next").addEventListener("click", function () { showAction({ action: "next" }); });
  byId("show-prev").addEventListener("click", function () { showAction({ action: "previous" }); });
  byId("show-unslide").addEventListener("click", function () { showAction({ action: "unslide" }); });
  byId("slide").addEventListener("submit", function (e) { e.preventDefault(); toggleSlide(); });

  // --- live polls ---
  var currentPoll = null;
  function renderPoll(p) {
    currentPoll = p && !p.closed ? p : null;
    byId("poll-close").hidden = !currentPoll;
    byId("poll-state").textContent = p ? (p.closed ? "closed: " : "open: ") + p.options.map(function (o) { return o.text + " " + (o.votes || 0); }).join(" · ") : "";
  }
  byId("poll").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target, options = [];
    f.options.value.split("\n").forEach(function (line) {
      var m = line.match(/^(.*?)\s*#(\S+)\s*$/);
      if (m) options.push({ text: m[1].trim() || m[2], tag: m[2] });
    });
    api("/polls", { question: f.question.value, options: options, minutes: parseInt(f.minutes.value, 10) || 0 }).then(function (p) { if (p && p.id) renderPoll(p); });
  });
  byId("poll-close").addEventListener("click", function () { if (currentPoll) api("/polls/" + encodeURIComponent(currentPoll.id) + "/close"); });

  function pick(li, on) {
    if (!li || !li.dataset.id) return;
    if (on) { picked.add(li.dataset.id); li.classList.add("picked"); } else { picked.delete(li.dataset.id); li.classList.remove("picked"); }
    byId("n-picked").textContent = picked.size + " selected";
  }
  function clearPicked() {
    picked.forEach(function (id) { var it = items.get(id); if (it) it.li.classList.remove("picked"); });
    picked.clear();
    byId("n-picked").textContent = "0 selected";
  }
  // pickPending selects every pending post that matches.
  function pickPending(match) {
    clearPicked();
    Array.prototype.forEach.call(lists.pending.children, function (li) {
      var it = items.get(li.dataset.id);
      if (it && match(it.item.post || {})) pick(li, true);
    });
  }
  document.querySelectorAll("[data-bulk]").forEach(function (b) { b.addEventListener("click", function () { bulk(b.dataset.bulk); }); });
  byId("pick-clear").addEventListener("click", clearPicked);
  byId("pick-author").addEventListener("click", function () {
    var it = selected && items.get(selected.dataset.id);
    var h = it && it.item.post && it.item.post.author && it.item.post.author.handle;
    if (h) pickPending(function (p) { return p.author && p.author.handle === h; });
  });
  byId("pick-word").addEventListener("submit", function (e) {
    e.preventDefault();
    var w = e.target.word.value.trim().toLowerCase();
    if (w) pickPending(function (p) { return ((p.text || "") + " " + (p.content_warning || "")).toLowerCase().indexOf(w) >= 0; });
  });

  var actions = {
    pending: ["approve", "reject", "remove"],
    visible: ["pin", "remove", "reject"],
    rejected: ["restore"]
  };

  function render(q) {
    var li = el("li");
    li.dataset.id = q.id;
    li.tabIndex = 0;
    var p = q.post || {};
    var a = p.author || {};
    if (q.pinned || p.pinned) li.classList.add("pinned");
    var head = el("div", "head");
    if (a.avatar) { var img = el("img"); img.src = a.avatar; img.alt = ""; head.appendChild(img); }
    head.appendChild(el("strong", null, a.name || ""));
    head.appendChild(el("span", null, a.handle || ""));
    head.appendChild(el("span", "src", (p.network || "") + " · " + (p.source || "")));
    li.appendChild(head);
    if (p.content_warning) li.appendChild(el("div", "cw", "⚠ " + p.content_warning));
    li.appendChild(el("div", "body", p.text || ""));
    Object.keys(p.translations || {}).sort().forEach(function (lang) {
      var t = p.translations[lang];
      li.appendChild(el("div", "translation", lang + " (from " + (t.from || "?") + "): " + (t.text || "")));
    });
    if (p.media && p.media.length) {
      var th = el("div", "thumbs");
      p.media.slice(0, 4).forEach(function (m, n) {
        var fig = el("figure", m.hidden ? "hidden" : (m.blur ? "blurred" : ""));
        var i = el("img"); i.loading = "lazy"; i.src = m.preview || m.url; i.alt = m.alt || ""; fig.appendChild(i);
        // Adjust the media for the screen, not what the author wrote.
        var tools = el("figcaption");
        [[m.hidden ? "show" : "hide", { hide: !m.hidden }], [m.blur ? "unblur" : "blur", { blur: !m.blur }]].forEach(function (b) {
          var btn = el("button", null, b[0]); btn.type = "button";
          btn.addEventListener("click", function (e) { e.stopPropagation(); api("/posts/" + encodeURIComponent(q.id) + "/media/" + n, b[1]); });
          tools.appendChild(btn);
        });
        if (!m.alt || m.alt_by_moderator) {
          var altBtn = el("button", null, m.alt ? "edit alt" : "add alt"); altBtn.type = "button";
          altBtn.addEventListener("click", function (e) {
            e.stopPropagation();
            var text = prompt("Alt text for this image (what it shows, for those who cannot see it):", m.alt || "");
            if (text !== null) api("/posts/" + encodeURIComponent(q.id) + "/media/" + n, { alt: text });
          });
          tools.appendChild(altBtn);
        }
        fig.appendChild(tools);
        th.appendChild(fig);
      });
      li.appendChild(th);
    }
    if (q.reason) li.appendChild(el("div", "reason", q.reason));
    var bar = el("div", "actions");
    var list = listOf(q.status);
    (actions[list] || []).forEach(function (name) {
      if (name === "pin" && (q.pinned || p.pinned)) name = "unpin";
      var b = el("button", null, name);
      b.type = "button";
      b.addEventListener("click", function () { act(q.id, name); });
      bar.appendChild(b);
    });
    // A post from a phone: its author is the phone (a pseudonym made from
    // its cookie), so a ban blocks the phone and forget erases all it sent.
    var phone = p.network === "upload";
    if (a.handle && list !== "rejected") {
      var ban = el("button", null, phone ? "block this phone" : "ban author");
      ban.type = "button";
      ban.addEventListener("click", function () { banAuthor(a.handle); });
      bar.appendChild(ban);
    }
    if (a.handle && list === "pending") {
      var trust = el("button", null, "trust author");
      trust.type = "button";
      trust.addEventListener("click", function () { trustAuthor(q.post); });
      bar.appendChild(trust);
    }
    if (a.handle && document.body.dataset.role === "admin") {
      var forget = el("button", "danger", phone ? "remove everything from this phone" : "forget author");
      forget.type = "button";
      forget.addEventListener("click", function () { forgetAuthor(a.handle); });
      bar.appendChild(forget);
    }
    li.appendChild(bar);
    li.addEventListener("click", function (e) { if (e.shiftKey) { pick(li, !picked.has(q.id)); return; } select(li); });
    return li;
  }

  function listOf(status) {
    if (status === "pending") return "pending";
    if (status === "visible") return "visible";
    return "rejected";
  }

  // put places an item in the list of its status, newest at the top
  // (pending: oldest first, so the queue is worked in order).
  function put(q) {
    var old = items.get(q.id);
    if (old && !q.post) q.post = old.item.post;
    if (old) old.li.remove();
    var li = render(q);
    var list = lists[listOf(q.status)];
    if (q.status === "pending") list.appendChild(li); else list.insertBefore(li, list.firstChild);
    items.set(q.id, { item: q, li: li });
    while (list.children.length > 200) {
      var last = list.lastChild;
      items.delete(last.dataset.id);
      last.remove();
    }
    if ((old && selected === old.li) || (!selected && q.status === "pending")) select(li);
    byId("n-pending").textContent = lists.pending.children.length;
  }

  function setStatus(id, status, extra) {
    var cur = items.get(id);
    if (!cur) return;
    var q = Object.assign({}, cur.item, { status: status }, extra || {});
    put(q);
  }

  function select(li) {
    if (selected) selected.classList.remove("selected");
    selected = li || null;
    if (selected) { selected.classList.add("selected"); selected.focus({ preventScroll: false }); }
  }

  // trustAuthor trusts the handle of a post's author on the source that
  // brought it (never the display name, which anyone can choose).
  function trustAuthor(post) {
    var handle = post.author.handle;
    if (!confirm("Trust " + handle + " (from " + post.source + ") on this wall? Their pending posts show now, and future ones skip the queue (never the word lists).")) return;
    api("/trusted", { author: post.source + ":" + handle }).then(offerUndo("trust " + handle));
  }

  // forgetAuthor deletes every post of an author everywhere (a takedown
  // or data-protection request): not undone.
  function forgetAuthor(handle) {
    if (!confirm("Forget " + handle + "? Every stored post of theirs is deleted from all walls and the database, and new ones are not stored. This cannot be undone.")) return;
    fetch("/admin/api/forget", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ author: handle })
    }).then(function (r) {
      return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); flash(j.forgotten + " posts deleted"); refreshAudit(); });
    }).catch(function (e) { flash(e.message); });
  }

  function banAuthor(handle) {
    if (!confirm("Ban " + handle + " from this wall? Their posts go now, and future ones are dropped.")) return;
    api("/bans", { author: handle }).then(offerUndo("ban " + handle));
  }

  function renderAnnouncements(list) {
    var ul = byId("announcements");
    ul.textContent = "";
    list.forEach(function (a) {
      var li = el("li", null, a.text + (a.starts_at ? " (from " + new Date(a.starts_at).toLocaleTimeString() + ")" : "") + (a.expires_at ? " (until " + new Date(a.expires_at).toLocaleTimeString() + ")" : ""));
      var b = el("button", null, "end");
      b.type = "button";
      b.addEventListener("click", function () { api("/announcements/" + encodeURIComponent(a.id) + "/end"); });
      li.appendChild(b);
      li.dataset.id = a.id;
      ul.appendChild(li);
    });
  }
  var announcements = [];

  function refreshAudit() {
    fetch("/admin/api/walls/" + encodeURIComponent(slug) + "/queue", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (st) { byId("audit").textContent = ""; (st.audit || []).slice().reverse().forEach(audit); });
  }

  function audit(e) {
    var li = el("li", null, new Date(e.at || Date.now()).toLocaleTimeString() + " " + e.user + " " + e.action + " " + (e.target || "") + " " + (e.detail || ""));
    var ol = byId("audit");
    ol.insertBefore(li, ol.firstChild);
  }

  function health(list) {
    var tb = byId("health");
    tb.textContent = "";
    (list || []).forEach(function (h) {
      var tr = el("tr");
      tr.appendChild(el("td", null, h.name));
      tr.appendChild(el("td", "state-" + h.state, h.note ? h.state + " (" + h.note + ")" : h.state));
      tr.appendChild(el("td", null, h.last_post ? new Date(h.last_post).toLocaleTimeString() : "–"));
      tr.title = h.last_error || "";
      tb.appendChild(tr);
    });
  }

  // outbound lists the endpoints told of the walls' events: their state,
  // what they took, what was given up on, how far behind they are.
  function outbound(list) {
    list = list || [];
    byId("outbound-title").hidden = byId("outbound-table").hidden = list.length === 0;
    var tb = byId("outbound");
    tb.textContent = "";
    list.forEach(function (o) {
      var tr = el("tr");
      tr.dataset.name = o.name;
      tr.appendChild(el("td", null, o.name + " (" + o.host + ")"));
      var st = o.state === "retrying" ? "retrying, attempt " + o.attempts : o.state;
      tr.appendChild(el("td", "state-" + (o.state === "retrying" ? "backoff" : "connected"), st));
      tr.appendChild(el("td", null, o.delivered + " sent, " + o.failed + " given up, " + o.behind + " behind"));
      tr.title = o.last_error || "";
      tb.appendChild(tr);
    });
  }

  // analytics fills the console's figures and charts (drawn by the server
  // as SVG) from the wall's report, every 30 s.
  function secs(v) { return v > 0 ? (v < 60 ? Math.round(v) + " s" : Math.floor(v / 60) + " min " + Math.round(v % 60) + " s") : "–"; }
  function analytics() {
    var base = "/admin/api/walls/" + encodeURIComponent(slug);
    fetch(base + "/report.json?posts=false", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.statusText); return r.json(); })
      .then(function (rep) {
        var f = {
          received: rep.totals.received, shown: rep.totals.shown, held: rep.totals.held, rejected: rep.totals.rejected,
          contributors: rep.contributors, moderation: secs(rep.moderation.p50_seconds) + " / " + secs(rep.moderation.p90_seconds),
          screens: rep.screens_peak.peak
        };
        document.querySelectorAll("#analytics [data-fig]").forEach(function (dd) { dd.textContent = f[dd.dataset.fig]; });
        [["top-contributors", rep.top_contributors, ""], ["top-hashtags", rep.top_hashtags, "#"]].forEach(function (t) {
          var ol = byId(t[0]);
          ol.textContent = "";
          (t[1] || []).slice(0, 5).forEach(function (x) { ol.appendChild(el("li", null, t[2] + x.name + " · " + x.posts)); });
        });
        var at = "?at=" + Date.now();
        byId("chart-posts").src = "/admin/walls/" + encodeURIComponent(slug) + "/report/posts.svg" + at;
        byId("chart-screens").src = "/admin/walls/" + encodeURIComponent(slug) + "/report/screens.svg" + at;
      })
      .catch(function () {});
  }
  analytics();
  setInterval(analytics, 30000);
  // A post that arrives or is decided brings the figures up to date
  // within a few seconds (one fetch for a burst).
  var soonTimer = null;
  function analyticsSoon() {
    if (!soonTimer) soonTimer = setTimeout(function () { soonTimer = null; analytics(); }, 3000);
  }

  function json(e) { try { return JSON.parse(e.data); } catch (_) { return null; } }

  function connect() {
    var src = new EventSource("/admin/walls/" + encodeURIComponent(slug) + "/queue/events?lastEventId=" + lastId);
    src.onopen = function () { byId("conn").textContent = "live"; byId("conn").className = "state ok"; };
    src.onerror = function () { byId("conn").textContent = "reconnecting…"; byId("conn").className = "state bad"; };
    src.addEventListener("pending", function (e) { var q = json(e); if (q) put(q); });
    src.addEventListener("show", function (e) { var s = json(e); if (s) renderShow(s); });
    src.addEventListener("poll", function (e) { var p = json(e); if (p) renderPoll(p); });
    src.addEventListener("rejected", function (e) { var q = json(e); if (q) put(q); });
    src.addEventListener("approved", function (e) { var q = json(e); if (q) setStatus(q.id, "visible"); });
    src.addEventListener("post", function (e) {
      var p = json(e); if (!p) return;
      var cur = items.get(p.id);
      put({ id: p.id, status: "visible", post: p, pinned: p.pinned || (cur && cur.item.pinned) });
    });
    src.addEventListener("update", function (e) { var p = json(e); var cur = p && items.get(p.id); if (cur) put(Object.assign({}, cur.item, { post: p })); });
    src.addEventListener("remove", function (e) { var p = json(e); if (p) setStatus(p.id, "removed", { reason: "removed", pinned: false }); });
    src.addEventListener("pin", function (e) { var p = json(e); if (p) setStatus(p.id, "visible", { pinned: true }); });
    src.addEventListener("unpin", function (e) { var p = json(e); if (p) setStatus(p.id, "visible", { pinned: false }); });
    src.addEventListener("announce", function (e) {
      var a = json(e); if (!a) return;
      announcements = announcements.filter(function (x) { return x.id !== a.id; });
      if (!a.ended) announcements.push(a);
      renderAnnouncements(announcements);
    });
    src.addEventListener("health", function (e) { health(json(e)); });
    src.addEventListener("outbound", function (e) { outbound(json(e)); });
    ["pending", "approved", "rejected", "post", "remove"].forEach(function (t) { src.addEventListener(t, analyticsSoon); });
  }

  fetch("/admin/api/walls/" + encodeURIComponent(slug) + "/queue", { credentials: "same-origin" })
    .then(function (r) { if (r.status === 401) { location.href = "/admin/login"; } return r.json(); })
    .then(function (st) {
      (st.rejected || []).concat(st.removed || []).reverse().forEach(put);
      (st.visible || []).slice().reverse().forEach(put);
      (st.pending || []).forEach(put);
      announcements = st.announcements || [];
      renderAnnouncements(announcements);
      (st.audit || []).slice().reverse().forEach(audit);
      lastId = st.head || 0;
      select(lists.pending.firstChild);
      connect();
    });

  function formJSON(form) {
    var o = {};
    new FormData(form).forEach(function (v, k) { o[k] = v; });
    return o;
  }
  byId("announce").addEventListener("submit", function (e) {
    e.preventDefault();
    var o = formJSON(e.target);
    if (o.start) { // today at that time, or tomorrow if it has passed
      var parts = o.start.split(":"), d = new Date();
      d.setHours(+parts[0], +parts[1], 0, 0);
      if (d < new Date()) d.setDate(d.getDate() + 1);
      o.starts_at = d.toISOString().replace(/\.\d+Z$/, "Z");
    }
    delete o.start;
    api("/announcements", o).then(function () { e.target.reset(); });
  });
  byId("ban").addEventListener("submit", function (e) { e.preventDefault(); api("/bans", formJSON(e.target)).then(offerUndo("ban")).then(function () { e.target.reset(); }); });
  byId("display").addEventListener("submit", function (e) { e.preventDefault(); api("/display", formJSON(e.target)); });
  byId("word").addEventListener("submit", function (e) { e.preventDefault(); api("/blocked_words", formJSON(e.target)).then(offerUndo("block word")).then(function () { e.target.reset(); }); });

  document.addEventListener("keydown", function (e) {
    if (e.target.closest("form") || e.ctrlKey || e.metaKey || e.altKey) return;
    var li = selected;
    if (e.key === "u") { undo(); e.preventDefault(); return; }
    var showKeys = { s: function () { showAction({ action: showState.paused ? "resume" : "pause" }); }, f: featureSelected,
      "]": function () { showAction({ action: "next" }); }, "[": function () { showAction({ action: "previous" }); }, h: toggleSlide };
    if (showKeys[e.key]) { showKeys[e.key](); e.preventDefault(); return; }
    if (e.key === "j" || e.key === "k" || e.key === "J" || e.key === "K") {
      var down = e.key.toLowerCase() === "j";
      var next = li ? (down ? li.nextElementSibling : li.previousElementSibling) : lists.pending.firstChild;
      if (e.shiftKey || e.key === "J" || e.key === "K") { pick(li, true); pick(next, true); } else { clearPicked(); }
      if (next) select(next);
      e.preventDefault();
      return;
    }
    if (picked.size > 1 && { a: 1, r: 1, x: 1 }[e.key]) {
      bulk({ a: "approve", r: "reject", x: "remove" }[e.key]);
      e.preventDefault();
      return;
    }
    if (!li) return;
    var cur = items.get(li.dataset.id);
    if (!cur) return;
    var q = cur.item;
    var after = li.nextElementSibling || li.previousElementSibling;
    var map = { a: "approve", r: "reject", x: "remove", p: (q.pinned ? "unpin" : "pin") };
    if (e.key === "b" && q.post && q.post.author) { banAuthor(q.post.author.handle); return; }
    if (e.key === "t" && q.post && q.post.author) { trustAuthor(q.post); return; }
    if (!map[e.key]) return;
    if (e.key === "a" && q.status !== "pending" && q.status !== "rejected") return;
    act(q.id, map[e.key]).then(function () { if (after && (e.key === "a" || e.key === "r")) select(after); });
    e.preventDefault();
  });
})();
