// Wallcast display: follows a wall's event stream and keeps the newest
// posts on screen. Post HTML arrives sanitised by the server.
(function () {
  "use strict";
  var body = document.body;
  var slug = body.dataset.wall;
  var maxPosts = parseInt(body.dataset.maxPosts, 10) || 60;
  var list = document.getElementById("posts");
  var empty = document.getElementById("empty");
  var status = document.getElementById("status");
  var byId = new Map();
  var offlineTimer = null;

  if (body.dataset.accent) document.documentElement.style.setProperty("--accent", body.dataset.accent);
  if (body.dataset.fontScale) document.documentElement.style.setProperty("--scale", body.dataset.fontScale);

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  function ago(iso) {
    var s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 45) return "now";
    if (s < 3600) return Math.round(s / 60) + " min";
    if (s < 86400) return Math.round(s / 3600) + " h";
    return new Date(iso).toLocaleDateString();
  }

  function initials(name) {
    return (name || "?").trim().split(/\s+/).slice(0, 2).map(function (w) { return w.charAt(0); }).join("").toUpperCase();
  }

  function media(m, sensitive) {
    var box = el("div", "media" + (sensitive ? " blurred" : ""));
    var node;
    if (m.type === "video" || m.type === "gifv") {
      node = document.createElement("video");
      node.muted = true; node.loop = true; node.autoplay = true; node.playsInline = true;
      node.preload = "metadata";
      if (m.preview) node.poster = m.preview;
      node.src = m.url;
    } else {
      node = document.createElement("img");
      node.loading = "lazy";
      node.decoding = "async";
      node.src = m.preview || m.url;
    }
    node.alt = m.alt || "";
    if (m.alt) node.title = m.alt;
    node.addEventListener("error", function () { box.remove(); });
    box.appendChild(node);
    return box;
  }

  function render(p) {
    var card = el("article", "post network-" + (p.network || "web"));
    card.dataset.id = p.id;
    if (p.pinned) card.classList.add("pinned");
    var head = el("header", "author");
    var av = el("div", "avatar", initials(p.author && p.author.name));
    if (p.author && p.author.avatar) {
      var img = document.createElement("img");
      img.alt = ""; img.loading = "lazy"; img.src = p.author.avatar;
      img.addEventListener("error", function () { img.remove(); });
      av.appendChild(img);
    }
    head.appendChild(av);
    var who = el("div", "who");
    who.appendChild(el("span", "name", (p.author && p.author.name) || ""));
    who.appendChild(el("span", "handle", (p.author && p.author.handle) || ""));
    head.appendChild(who);
    var meta = el("div", "meta");
    meta.appendChild(el("span", "network", p.network || ""));
    if (p.demo) meta.appendChild(el("span", "demo", "demo"));
    var t = el("time", "ago", ago(p.created_at));
    t.dateTime = p.created_at;
    meta.appendChild(t);
    head.appendChild(meta);
    card.appendChild(head);

    var content = el("div", "content");
    content.innerHTML = p.html || "";
    content.querySelectorAll("a.hashtag, a.mention").forEach(function (a) { a.classList.add("hl"); });
    var holder = card;
    if (p.content_warning) {
      var d = el("details", "cw");
      d.appendChild(el("summary", null, "⚠ " + p.content_warning));
      card.appendChild(d);
      holder = d;
    }
    holder.appendChild(content);
    if (p.media && p.media.length) {
      var gallery = el("div", "gallery n" + Math.min(p.media.length, 4));
      p.media.slice(0, 4).forEach(function (m) { gallery.appendChild(media(m, p.sensitive)); });
      holder.appendChild(gallery);
    }
    return card;
  }

  function place(card, pinned) {
    if (pinned) { list.insertBefore(card, list.firstChild); return; }
    var first = list.firstChild;
    while (first && first.classList.contains("pinned")) first = first.nextSibling;
    list.insertBefore(card, first);
  }

  function add(p, animate) {
    var old = byId.get(p.id);
    var card = render(p);
    if (old) { old.replaceWith(card); } else { place(card, p.pinned); }
    byId.set(p.id, card);
    if (animate && !old) card.classList.add("enter");
    trim();
    empty.hidden = byId.size > 0;
  }

  function remove(id) {
    var card = byId.get(id);
    if (!card) return;
    byId.delete(id);
    card.classList.add("leave");
    setTimeout(function () { card.remove(); }, 400);
    empty.hidden = byId.size > 0;
  }

  function trim() {
    var cards = list.querySelectorAll("article.post:not(.pinned)");
    for (var i = cards.length - 1; i >= 0 && byId.size > maxPosts; i--) {
      byId.delete(cards[i].dataset.id);
      cards[i].remove();
    }
  }

  function clear() {
    byId.clear();
    list.textContent = "";
    empty.hidden = false;
  }

  function json(e) { try { return JSON.parse(e.data); } catch (_) { return null; } }

  var src = new EventSource("/walls/" + encodeURIComponent(slug) + "/events");
  // Backfill posts come without an id; live ones carry one. Only live posts
  // animate in.
  var lastId = null;
  function carriesId(e) { var changed = e.lastEventId !== lastId; lastId = e.lastEventId; return changed; }
  src.addEventListener("post", function (e) { var p = json(e); var live = carriesId(e); if (p) add(p, live); });
  src.addEventListener("update", function (e) { var p = json(e); if (p) add(p, false); });
  src.addEventListener("remove", function (e) { var p = json(e); if (p) remove(p.id); });
  src.addEventListener("pin", function (e) { var p = json(e); if (p && p.html) { p.pinned = true; remove(p.id); add(p, true); } });
  src.addEventListener("unpin", function (e) {
    var p = json(e); var c = p && byId.get(p.id);
    if (c) { c.classList.remove("pinned"); c.remove(); place(c, false); }
  });
  var announcements = document.getElementById("announcements");
  var annTimers = {};
  function endAnnouncement(id) {
    var old = announcements.querySelector('[data-id="' + CSS.escape(id) + '"]');
    if (old) old.remove();
    clearTimeout(annTimers[id]);
  }
  src.addEventListener("announce", function (e) {
    var a = json(e); if (!a) return;
    endAnnouncement(a.id);
    if (a.ended) return;
    var left = a.expires_at ? new Date(a.expires_at).getTime() - Date.now() : Infinity;
    if (left <= 0) return;
    var card = el("div", "announcement");
    card.dataset.id = a.id;
    if (a.image) { var im = document.createElement("img"); im.src = a.image; im.alt = ""; im.addEventListener("error", function () { im.remove(); }); card.appendChild(im); }
    var t = el("p", null, a.text);
    card.appendChild(t);
    if (a.url) { var l = el("a", null, a.url.replace(/^https?:\/\//, "")); l.href = a.url; l.target = "_blank"; l.rel = "noopener noreferrer"; card.appendChild(l); }
    announcements.appendChild(card);
    if (left !== Infinity) annTimers[a.id] = setTimeout(function () { endAnnouncement(a.id); }, left);
  });
  src.addEventListener("reset", function () { clear(); announcements.textContent = ""; });
  src.addEventListener("config", function () { location.reload(); });
  src.onopen = function () {
    clearTimeout(offlineTimer);
    status.hidden = true;
    body.classList.remove("offline");
  };
  src.onerror = function () {
    status.hidden = false;
    status.textContent = "Reconnecting…";
    clearTimeout(offlineTimer);
    offlineTimer = setTimeout(function () {
      status.textContent = "Offline: showing the last posts received";
      body.classList.add("offline");
    }, 60000);
  };
  setInterval(function () {
    list.querySelectorAll("time.ago").forEach(function (t) { t.textContent = ago(t.dateTime); });
  }, 30000);
})();
