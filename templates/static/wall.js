// Wallcast display: follows a wall's event stream and shows its posts in
// one of three layouts (grid, spotlight, ticker). Post HTML arrives
// sanitised by the server; everything else is set as text.
(function () {
  "use strict";
  var body = document.body;
  var root = document.documentElement;
  var slug = body.dataset.wall;
  var T = JSON.parse(body.dataset.strings || "{}");
  var settings = JSON.parse(body.dataset.display || "{}");
  var embed = body.dataset.embed === "true";
  var list = document.getElementById("posts");
  var empty = document.getElementById("empty");
  var status = document.getElementById("status");
  var announcements = document.getElementById("announcements");
  var byId = new Map();
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var rtf = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(root.lang || "en", { numeric: "auto", style: "short" }) : null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  // --- settings (at load, and on every config event) ---
  // A screen may ask for its own layout (?layout=overlay for a broadcast
  // mixer's browser source): it keeps it whatever the wall's is.
  var ownLayout = (function () {
    var l = new URLSearchParams(location.search).get("layout");
    return ["grid", "spotlight", "ticker", "overlay"].indexOf(l) >= 0 ? l : "";
  })();
  function apply(s) {
    // The page's own words come with the page: a new language reloads it.
    if (s.locale && root.lang && s.locale !== root.lang) { location.reload(); return; }
    settings = s;
    if (ownLayout) settings.layout = ownLayout;
    body.className = "layout-" + (s.layout || "grid") + " overlay-" + (s.overlay_position || "lower_third");
    root.classList.toggle("overlay", s.layout === "overlay");
    root.classList.remove("theme-dark", "theme-light");
    root.classList.add("theme-" + (s.theme || "dark"));
    if (s.accent) root.style.setProperty("--accent", s.accent); else root.style.removeProperty("--accent");
    root.style.setProperty("--scale", s.font_scale || 1);
    var cta = document.getElementById("cta");
    if (cta) {
      cta.hidden = !s.call_to_action;
      document.getElementById("cta-text").textContent = s.call_to_action || "";
      document.getElementById("qr").hidden = !s.qr;
    }
    showRoom();
    var title = document.getElementById("title");
    if (title && s.title) title.textContent = s.title;
    byId.forEach(function (card) { card.classList.toggle("reveal", !!s.show_sensitive); });
    trim();
    layout.restart();
    masonry();
  }
  // --- the room's posts from phones: the QR code leads to the form with
  // the current room code, and the code is written out to type in ---
  var roomNow = null;
  function room(r) { roomNow = r; showRoom(); }
  function showRoom() {
    var cta = document.getElementById("cta");
    if (!cta || !roomNow) return;
    if (!roomNow.url) { // no more posts from phones: the wall's own bar
      roomNow = null;
      document.getElementById("cta-room").textContent = "";
      document.getElementById("qr").src = "/walls/" + encodeURIComponent(slug) + "/qr.svg";
      apply(settings);
      return;
    }
    cta.hidden = false;
    var qr = document.getElementById("qr");
    var src = "/walls/" + encodeURIComponent(slug) + "/qr.svg" + (roomNow.code ? "?code=" + encodeURIComponent(roomNow.code) : "");
    if (qr.getAttribute("src") !== src) qr.src = src;
    qr.alt = (T.post_here || "") + ": " + roomNow.url;
    qr.hidden = false;
    document.getElementById("cta-room").textContent = (T.post_here || "") + (roomNow.code ? " · " + roomNow.code : "");
  }
  if (body.dataset.background) {
    root.style.setProperty("--background", "url(" + JSON.stringify(body.dataset.background) + ")");
    root.classList.add("has-background");
  }

  // --- posts ---
  function ago(iso) {
    var s = (new Date(iso).getTime() - Date.now()) / 1000;
    if (!rtf) return "";
    if (s > -45) return rtf.format(0, "second");
    if (s > -3600) return rtf.format(Math.round(s / 60), "minute");
    if (s > -86400) return rtf.format(Math.round(s / 3600), "hour");
    return rtf.format(Math.round(s / 86400), "day");
  }

  // The screen's language for translations: ?lang= when the wall
  // translates into it, else the wall's first.
  var lang = (function () {
    var want = new URLSearchParams(location.search).get("lang");
    var to = settings.translate_to || [];
    return to.indexOf(want) >= 0 ? want : (to[0] || "");
  })();
  var languages = window.Intl && Intl.DisplayNames ? new Intl.DisplayNames([root.lang || "en"], { type: "language" }) : null;
  function languageName(code) {
    if (!code) return "?";
    try { return (languages && languages.of(code)) || code; } catch (e) { return code; }
  }
  // Translated posts and their originals take turns on the screen.
  setInterval(function () { body.classList.toggle("originals"); }, 8000);

  function initials(name) {
    return (name || "?").trim().split(/\s+/).slice(0, 2).map(function (w) { return w.charAt(0); }).join("").toUpperCase();
  }

  // hideOnError takes out what shows a picture that fails to load; a
  // gallery left with fewer tiles lays them out again.
  function hideOnError(node, what) {
    node.addEventListener("error", function () {
      var gallery = what.parentNode;
      what.remove();
      if (gallery && gallery.classList && gallery.classList.contains("gallery") && !gallery.classList.contains("carousel")) {
        var n = gallery.querySelectorAll(".media").length;
        gallery.className = "gallery n" + Math.min(n, 4);
        if (!n) gallery.remove();
      }
    });
  }

  function media(m) {
    var box = el("div", m.blur ? "media blur" : "media");
    var node;
    if (m.type === "video" || m.type === "gifv") {
      node = document.createElement("video");
      node.muted = true; node.loop = true; node.autoplay = !reduceMotion; node.playsInline = true;
      node.preload = "metadata";
      if (m.preview) node.poster = m.preview;
      node.src = m.url;
      node.setAttribute("aria-label", m.alt || "");
    } else {
      node = document.createElement("img");
      node.loading = "lazy";
      node.decoding = "async";
      node.src = m.preview && m.type !== "image" ? m.preview : (m.url || m.preview);
      node.alt = m.alt || "";
    }
    if (node.tagName === "VIDEO" && m.preview) {
      // A video that cannot play here (a format this browser lacks)
      // leaves its poster frame.
      node.addEventListener("error", function () {
        if (playing) playing.unobserve(node);
        var still = document.createElement("img");
        still.alt = m.alt || ""; still.src = m.preview;
        hideOnError(still, box);
        node.replaceWith(still);
      });
    } else {
      hideOnError(node, box);
    }
    if (node.tagName === "VIDEO" && playing) playing.observe(node);
    box.appendChild(node);
    return box;
  }

  // Videos play only while they are on the screen (muted, looped, never
  // with sound), and not at all with reduced motion.
  var playing = window.IntersectionObserver ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      if (e.isIntersecting && !reduceMotion) { var p = e.target.play(); if (p && p.catch) p.catch(function () {}); } else e.target.pause();
    });
  }) : null;

  // Carousels show their pictures in turn, every display.image_seconds.
  setInterval(function () {
    list.querySelectorAll(".gallery.carousel").forEach(function (g) {
      var items = g.querySelectorAll(".media");
      if (!items.length) return;
      var at = Array.prototype.findIndex.call(items, function (m) { return m.classList.contains("on"); });
      items[Math.max(at, 0)].classList.remove("on");
      var next = (at + 1) % items.length;
      items[next].classList.add("on");
      var count = g.querySelector(".count");
      if (count) count.textContent = (next + 1) + "/" + items.length;
    });
  }, (settings.image_seconds || 4) * 1000);

  // Hashtags in plain text (not already links) are highlighted.
  function highlight(node) {
    var walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    var texts = [];
    while (walker.nextNode()) {
      if (!walker.currentNode.parentNode.closest("a")) texts.push(walker.currentNode);
    }
    texts.forEach(function (t) {
      var parts = t.nodeValue.split(/(#[\p{L}\p{N}_]+)/u);
      if (parts.length < 2) return;
      var frag = document.createDocumentFragment();
      parts.forEach(function (p, i) { frag.appendChild(i % 2 ? el("span", "tag", p) : document.createTextNode(p)); });
      t.parentNode.replaceChild(frag, t);
    });
    node.querySelectorAll("a.hashtag, a[href*='/hashtag/'], a[href*='/tags/']").forEach(function (a) { a.classList.add("tag"); });
  }

  function render(p) {
    // Post data never becomes a class name: the network is an attribute.
    var card = el("article", "post");
    card.dataset.id = p.id;
    card.dataset.network = p.network || "web";
    if (p.pinned) card.classList.add("pinned");
    if (p.sensitive) card.classList.add("sensitive");
    if (settings.show_sensitive) card.classList.add("reveal");
    var head = el("header", "author");
    var av = el("div", "avatar", initials(p.author && p.author.name));
    av.setAttribute("aria-hidden", "true");
    if (p.author && p.author.avatar) {
      var img = document.createElement("img");
      img.alt = ""; img.loading = "lazy"; img.src = p.author.avatar;
      hideOnError(img, img);
      av.appendChild(img);
    }
    head.appendChild(av);
    var who = el("div", "who");
    // A phone's handle is a pseudonym for moderators, not for screens.
    var fromRoom = p.network === "upload";
    who.appendChild(el("span", "name", (p.author && p.author.name) || (fromRoom ? T.guest || "" : "")));
    who.appendChild(el("span", "handle", fromRoom ? "" : (p.author && p.author.handle) || ""));
    head.appendChild(who);
    var meta = el("div", "meta");
    var net = el("span", "network", p.network || "");
    net.setAttribute("aria-label", p.network || "");
    meta.appendChild(net);
    if (p.demo) meta.appendChild(el("span", "demo", T.demo || "demo"));
    var t = el("time", "ago", ago(p.created_at));
    t.dateTime = p.created_at;
    meta.appendChild(t);
    head.appendChild(meta);
    card.appendChild(head);

    var content = el("div", "content");
    content.dir = "auto";
    if (p.lang) content.lang = p.lang;
    content.innerHTML = p.html || "";
    highlight(content);
    var holder = card;
    if (p.content_warning) {
      var d = el("details", "cw");
      d.appendChild(el("summary", null, "⚠ " + p.content_warning));
      card.appendChild(d);
      holder = d;
    }
    // A translation into the screen's language: shown with a line that
    // says from what; the original takes turns with it (side by side in
    // spotlight).
    var tr = lang && p.translations && p.translations[lang];
    if (tr) {
      card.classList.add("translated");
      content.classList.add("original");
      var tc = el("div", "content translation");
      tc.dir = "auto";
      tc.lang = lang;
      tc.innerHTML = tr.html || "";
      highlight(tc);
      var both = el("div", "bilingual");
      both.appendChild(tc);
      both.appendChild(content);
      holder.appendChild(both);
      var from = el("p", "translated-from");
      from.appendChild(el("span", "as-translation", (T.translated_from || "Translated from") + " " + languageName(tr.from)));
      from.appendChild(el("span", "as-original", (T.original || "Original") + " · " + languageName(tr.from)));
      holder.appendChild(from);
    } else {
      holder.appendChild(content);
    }
    var shown = (p.media || []).filter(function (m) { return !m.hidden; }); // a moderator may hide one
    if (shown.length) {
      // Up to four tiled; more take turns in a carousel, every one shown.
      var gallery = el("div", "gallery n" + Math.min(shown.length, 4) + (shown.length > 4 ? " carousel" : ""));
      shown.forEach(function (m, i) { var b = media(m); if (i === 0) b.classList.add("on"); gallery.appendChild(b); });
      if (shown.length > 4) gallery.appendChild(el("span", "count", "1/" + shown.length));
      holder.appendChild(gallery);
    }
    return card;
  }

  function place(card) {
    if (card.classList.contains("pinned")) { list.insertBefore(card, list.firstChild); return; }
    var first = list.firstChild;
    while (first && first.classList.contains("pinned")) first = first.nextSibling;
    list.insertBefore(card, first);
    masonry();
  }

  // --- the grid: masonry in reading order ---
  // Cards go one by one, newest first (pinned ones before), into the
  // column whose bottom is highest, the leftmost on a tie: the newest is
  // top left, the top row reads left to right, and no column has a hole
  // taller than the gap between cards. Cards are placed absolutely; a
  // change moves the others to their new places with a transition
  // (a fade, without moving, when motion is reduced). The columns follow
  // the screen's width, or display.columns.
  var masonryFrame = 0;
  function masonry() {
    if (masonryFrame) return;
    masonryFrame = requestAnimationFrame(function () { masonryFrame = 0; placeAll(); });
  }
  function placeAll() {
    var grid = (settings.layout || "grid") === "grid";
    var cards = Array.prototype.filter.call(list.children, function (c) { return c.matches("article.post") && !c.classList.contains("leave"); });
    if (!grid) {
      list.style.height = "";
      list.classList.remove("masonry");
      cards.forEach(function (c) { c.style.left = c.style.top = c.style.width = ""; });
      return;
    }
    list.classList.add("masonry");
    var cs = getComputedStyle(list);
    var width = list.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    var gap = parseFloat(cs.rowGap) || 16;
    var min = parseFloat(getComputedStyle(document.documentElement).fontSize) * (embed ? 18 : 22);
    var n = settings.columns > 0 ? settings.columns : Math.max(1, Math.floor((width + gap) / (min + gap)));
    var colW = (width - gap * (n - 1)) / n;
    cards.forEach(function (c) { c.style.width = colW + "px"; });
    var heights = cards.map(function (c) { return c.offsetHeight; }); // one layout for all reads
    var cols = [];
    for (var i = 0; i < n; i++) cols.push(0);
    cards.forEach(function (c, k) {
      var col = 0;
      for (var j = 1; j < n; j++) if (cols[j] < cols[col] - 0.5) col = j;
      c.style.left = (parseFloat(cs.paddingLeft) + col * (colW + gap)) + "px";
      c.style.top = (parseFloat(cs.paddingTop) + cols[col]) + "px";
      cols[col] += heights[k] + gap;
    });
    list.style.height = (Math.max.apply(null, cols) + parseFloat(cs.paddingTop) + parseFloat(cs.paddingBottom)) + "px";
  }
  // A card whose height changes (a picture loads, a translation comes)
  // moves the cards under it.
  var resized = window.ResizeObserver ? new ResizeObserver(function () { masonry(); }) : null;
  window.addEventListener("resize", masonry);

  // flip runs a change to the grid; the masonry moves the cards already
  // there to their new places smoothly, instead of jumping.
  function flip(change) {
    change();
    masonry();
  }

  function add(p, animate) {
    var old = byId.get(p.id);
    var card = render(p);
    card._post = p;
    if (old) {
      if (old.classList.contains("current")) card.classList.add("current");
      old.replaceWith(card);
    } else {
      if (animate) flip(function () { place(card); }); else place(card); // a backfill does not move
    }
    byId.set(p.id, card);
    if (resized) resized.observe(card);
    masonry();
    if (animate && !old) card.classList.add("enter"); // a slide in, or with reduced motion a fade
    if (!old) layout.added(card);
    trim();
    empty.hidden = byId.size > 0;
    keep();
  }

  function remove(id) {
    var featured = featureBox.firstChild;
    if (featured && featured.dataset.id === id) { // a featured post taken off the wall goes too
      clearTimeout(featureTimer);
      featureBox.textContent = "";
      featureBox.hidden = true;
      body.classList.remove("featuring");
    }
    var card = byId.get(id);
    if (!card) return;
    byId.delete(id);
    layout.removed(card);
    keep();
    card.classList.add("leave"); // a shrink, or with reduced motion a fade
    if (resized) resized.unobserve(card);
    masonry();
    setTimeout(function () { card.remove(); }, 400);
    empty.hidden = byId.size > 0;
  }

  // --- a screen that reloads offline ---
  // The page keeps what it shows (the posts, at most max_posts, and the
  // announcements, show, poll and room code) with the id of the last
  // event it applied, in localStorage; the service worker keeps the page,
  // its files and the pictures. A screen that reloads while the network
  // or the server is away shows the wall as it was, with the reconnecting
  // mark, and when the server answers it resumes from that id: the events
  // since, from the server's log (or a reset and a backfill when the log
  // no longer reaches back), none twice, none missed. While the show is
  // paused nothing is kept (the events held back are not shown yet).
  var storeKey = "wallcast:" + slug, keepTimer = null, kept = { anns: {} };
  function keep() {
    if (keepTimer || embed) return;
    keepTimer = setTimeout(function () {
      keepTimer = null;
      if (paused || !lastId) return;
      var posts = Array.prototype.map.call(list.querySelectorAll("article.post"), function (c) { return c._post; })
        .filter(Boolean).slice(0, settings.max_posts || 60);
      var anns = Object.keys(kept.anns).map(function (k) { return kept.anns[k]; });
      try {
        localStorage.setItem(storeKey, JSON.stringify({ lastId: lastId, posts: posts, show: kept.show, poll: kept.poll, room: roomNow, anns: anns }));
      } catch (e) { /* full or off: nothing kept */ }
    }, 1000);
  }
  function restore() {
    var k = null;
    try { k = JSON.parse(localStorage.getItem(storeKey) || "null"); } catch (e) { /* nothing kept */ }
    if (!k || !k.posts || !k.lastId) return;
    k.posts.slice().reverse().forEach(function (p) { add(p, false); });
    (k.anns || []).forEach(announce);
    if (k.poll) poll(k.poll);
    if (k.room) room(k.room);
    if (k.show) show(k.show);
    lastId = String(k.lastId);
  }
  if (!embed && "serviceWorker" in navigator) {
    navigator.serviceWorker.register("/walls/sw.js", { scope: "/walls/" }).catch(function () { /* http on a LAN address: no offline copy */ });
  }

  // Old posts leave the page: a screen left alone for days keeps a bounded DOM.
  function trim() {
    var max = settings.max_posts || 60;
    var cards = list.querySelectorAll("article.post:not(.pinned)");
    for (var i = cards.length - 1; i >= 0 && byId.size > max; i--) {
      if (byId.get(cards[i].dataset.id) !== cards[i]) continue;
      byId.delete(cards[i].dataset.id);
      layout.removed(cards[i]);
      if (resized) resized.unobserve(cards[i]);
      cards[i].remove();
      masonry();
    }
  }

  function clear() {
    byId.clear();
    list.textContent = "";
    announcements.textContent = "";
    empty.hidden = false;
    layout.restart();
  }

  // --- layouts ---
  // grid: CSS does it all. spotlight: one post at a time, new posts first,
  // pinned posts and announcements twice as long. ticker: one line that
  // scrolls; reduced motion shows one post at a time instead. overlay: the
  // spotlight's turns, as a lower third (or a corner card) on a
  // transparent page.
  var layout = (function () {
    var timer = null, queue = [], raf = null, offset = 0, last = 0;
    function kind() { var k = settings.layout || "grid"; return k === "overlay" ? "spotlight" : k; }
    function stop() {
      clearTimeout(timer); timer = null;
      if (raf) cancelAnimationFrame(raf);
      raf = null;
      list.style.transform = "";
      list.querySelectorAll(".current").forEach(function (c) { c.classList.remove("current"); });
    }
    function show(card) {
      list.querySelectorAll(".current").forEach(function (c) { c.classList.remove("current"); });
      if (card) card.classList.add("current");
    }
    function next() {
      clearTimeout(timer);
      var cards = Array.prototype.slice.call(list.querySelectorAll("article.post"));
      if (!cards.length) { timer = setTimeout(next, 1000); return; }
      var card = null;
      while (queue.length && !card) { var c = queue.shift(); if (c.isConnected) card = c; }
      if (!card) {
        var cur = list.querySelector(".current");
        var i = cur ? cards.indexOf(cur) : -1;
        card = cards[(i + 1) % cards.length];
      }
      show(card);
      var secs = settings.spotlight_seconds || 8;
      if (card.classList.contains("pinned") || announcements.children.length) secs *= 2;
      timer = setTimeout(next, secs * 1000);
    }
    function scroll(ts) {
      var dt = last ? Math.min(ts - last, 100) : 0;
      last = ts;
      offset += dt * 0.08 * (settings.font_scale || 1);
      var first = list.firstElementChild;
      if (first && offset > first.offsetWidth + 24) {
        offset -= first.offsetWidth + 24;
        list.appendChild(first);
      }
      list.style.transform = "translateX(" + (-offset) + "px)";
      raf = requestAnimationFrame(scroll);
    }
    return {
      restart: function () {
        stop();
        queue = [];
        if (kind() === "spotlight" || (kind() === "ticker" && reduceMotion)) next();
        else if (kind() === "ticker") { offset = 0; last = 0; raf = requestAnimationFrame(scroll); }
      },
      // step moves a spotlight one post on or back, on the crew's command.
      step: function (n) {
        if (kind() !== "spotlight") return;
        if (n > 0) { next(); return; }
        var cards = Array.prototype.slice.call(list.querySelectorAll("article.post"));
        var cur = list.querySelector(".current");
        var i = cur ? cards.indexOf(cur) : 0;
        queue = [];
        queue.push(cards[(i - 1 + cards.length) % cards.length]);
        next();
      },
      pause: function () { stop(); },
      added: function (card) {
        if (kind() === "spotlight" || (kind() === "ticker" && reduceMotion)) {
          queue.push(card);
          if (!list.querySelector(".current")) next();
        }
      },
      removed: function (card) {
        if (card.classList.contains("current")) next();
      }
    };
  })();

  // later runs fn after ms, also beyond the 2^31 ms (24.8 days) a
  // browser's timer holds: it re-arms in steps of a day. It returns a
  // handle for clearLater.
  function later(fn, ms) {
    var h = { t: 0 };
    var until = Date.now() + ms;
    (function arm() {
      var left = until - Date.now();
      h.t = setTimeout(left > 86400000 ? arm : fn, Math.max(0, Math.min(left, 86400000)));
    })();
    return h;
  }
  function clearLater(h) { if (h) clearTimeout(h.t); }

  // --- announcements ---
  var annTimers = {};
  function endAnnouncement(id) {
    delete kept.anns[id];
    keep();
    Array.prototype.forEach.call(announcements.children, function (c) { if (c.dataset.id === id) c.remove(); });
    clearLater(annTimers[id]);
  }
  function announce(a) {
    endAnnouncement(a.id);
    if (!a.ended) { kept.anns[a.id] = a; keep(); }
    if (a.ended) return;
    var left = a.expires_at ? new Date(a.expires_at).getTime() - Date.now() : Infinity;
    if (left <= 0) return;
    var wait = a.starts_at ? new Date(a.starts_at).getTime() - Date.now() : 0;
    if (wait > 0) { // scheduled: shown from its start
      annTimers[a.id] = later(function () { announce(Object.assign({}, a, { starts_at: "" })); }, wait);
      return;
    }
    var card = el("div", "announcement");
    card.dataset.id = a.id;
    if (a.image) { var im = document.createElement("img"); im.src = a.image; im.alt = ""; hideOnError(im, im); card.appendChild(im); }
    var t = el("p", null, a.text);
    t.dir = "auto";
    card.appendChild(t);
    if (a.url) { var l = el("a", null, a.url.replace(/^https?:\/\//, "")); l.href = a.url; l.target = "_blank"; l.rel = "noopener noreferrer"; card.appendChild(l); }
    announcements.appendChild(card);
    if (left !== Infinity) annTimers[a.id] = later(function () { endAnnouncement(a.id); }, left);
  }

  // --- a wall that never looks frozen ---
  // When no new post has come for recycle_after seconds, earlier posts of
  // the wall come back in turn, one every spotlight_seconds: first
  // those no longer on the screen (fetched from the posts API, older and
  // older), then, when every one is on screen, the oldest card moves to
  // the front. Nothing is sent as a new event and no post shows twice.
  var quietTimer = null, recycleTimer = null, olderThan = "", offScreen = [];
  function live() {
    clearTimeout(quietTimer); clearTimeout(recycleTimer); recycleTimer = null;
    var after = settings.recycle_after || 0;
    if (after > 0) quietTimer = setTimeout(recycle, after * 1000);
  }
  function recycle() {
    var every = (settings.spotlight_seconds || 8) * 1000;
    recycleTimer = setTimeout(recycle, every);
    if (paused) return;
    var p = null;
    while (offScreen.length && !p) { var c = offScreen.shift(); if (!byId.has(c.id)) p = c; }
    if (p) { p.recycled = true; add(p, true); return; }
    var url = "/api/walls/" + encodeURIComponent(slug) + "/posts?limit=50" + (olderThan ? "&before=" + encodeURIComponent(olderThan) : "");
    fetch(url).then(function (r) { return r.json(); }).then(function (j) {
      offScreen = (j.posts || []).filter(function (q) { return !byId.has(q.id); });
      olderThan = j.next && offScreen.length ? String(j.next) : "";
      if (!offScreen.length) {
        // Every recent post is on screen: the oldest card comes to the front.
        var cards = list.querySelectorAll("article.post:not(.pinned)");
        var last = cards[cards.length - 1];
        if (last && cards.length > 1) { last.remove(); place(last); last.classList.add("recycled"); }
      }
    }).catch(function () {});
  }

  // --- sponsors: a card in turn, every sponsor_every_posts new posts or
  // sponsor_every_seconds; each showing is reported for the report ---
  var sponsorBox = el("aside", "sponsor"); sponsorBox.id = "sponsor"; sponsorBox.hidden = true;
  document.body.appendChild(sponsorBox);
  var sponsorNext = 0, postsSince = 0, sponsorTimer = null, sponsorShowing = false, screenToken = "";
  function armSponsors() {
    clearTimeout(sponsorTimer);
    var every = settings.sponsor_every_seconds || 0;
    if ((settings.sponsors || []).length && every > 0) sponsorTimer = setTimeout(showSponsor, every * 1000);
  }
  function showSponsor() {
    var cards = settings.sponsors || [];
    if (!cards.length || sponsorShowing) return;
    if (paused) { armSponsors(); return; }
    var i = sponsorNext % cards.length, sp = cards[i];
    sponsorNext++;
    postsSince = 0;
    clearTimeout(sponsorTimer);
    sponsorBox.textContent = "";
    var img = document.createElement("img"); img.src = sp.image; img.alt = sp.name;
    sponsorBox.appendChild(img);
    sponsorBox.hidden = false;
    sponsorShowing = true;
    var started = Date.now();
    setTimeout(function () {
      sponsorBox.hidden = true;
      sponsorShowing = false;
      fetch("/walls/" + encodeURIComponent(slug) + "/impressions", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sponsor: i, seconds: Math.max(1, Math.round((Date.now() - started) / 1000)), token: screenToken }) }).catch(function () {});
      armSponsors();
    }, (sp.seconds || 8) * 1000);
  }
  function postForSponsors() {
    var n = settings.sponsor_every_posts || 0;
    if (n > 0 && ++postsSince >= n) showSponsor();
  }

  // --- a live poll: bars that grow as votes come; the result stays a
  // minute after it closes ---
  var pollBox = el("section", "poll"); pollBox.id = "poll"; pollBox.hidden = true;
  document.body.appendChild(pollBox);
  var pollTimer = null;
  function poll(p) {
    kept.poll = p.closed ? null : p;
    keep();
    clearLater(pollTimer);
    var total = 0;
    (p.options || []).forEach(function (o) { total += o.votes || 0; });
    var rows = pollBox.querySelectorAll(".option");
    if (pollBox.dataset.id === p.id && rows.length === (p.options || []).length) {
      // The same poll: the bars grow (or shrink) to their new share.
      p.options.forEach(function (o, i) {
        rows[i].querySelector(".share").style.width = (total ? Math.round(100 * (o.votes || 0) / total) : 0) + "%";
        rows[i].querySelector(".votes").textContent = String(o.votes || 0);
      });
    } else {
      renderPoll(p, total);
    }
    pollBox.classList.toggle("closed", !!p.closed);
    pollBox.hidden = false;
    var ends = p.closed ? 60000 : (p.closes_at ? Date.parse(p.closes_at) - Date.now() + 60000 : Infinity);
    if (ends !== Infinity) pollTimer = later(function () { pollBox.hidden = true; }, Math.max(ends, 0));
  }
  function renderPoll(p, total) {
    pollBox.dataset.id = p.id;
    pollBox.textContent = "";
    pollBox.appendChild(el("h2", null, p.question));
    (p.options || []).forEach(function (o) {
      var row = el("div", "option");
      var share = total ? Math.round(100 * (o.votes || 0) / total) : 0;
      row.appendChild(el("span", "label", o.text + " #" + o.tag));
      var bar = el("div", "track");
      var fill = el("div", "share");
      fill.style.width = share + "%";
      bar.appendChild(fill);
      row.appendChild(bar);
      row.appendChild(el("span", "votes", String(o.votes || 0)));
      row.dataset.tag = o.tag;
      pollBox.appendChild(row);
    });
  }

  // --- show control: pause, a featured post, a holding slide ---
  var paused = false, waiting = [], featureTimer = null;
  var featureBox = el("div", "feature"); featureBox.id = "feature"; featureBox.hidden = true;
  var slideBox = el("div", "slide"); slideBox.id = "slide"; slideBox.hidden = true;
  document.body.appendChild(featureBox);
  document.body.appendChild(slideBox);
  // held runs what changes the posts now, or once the crew resumes.
  function held(fn) {
    return function (d, live) { if (paused) waiting.push(function () { fn(d, live); }); else fn(d, live); };
  }
  function show(s) {
    kept.show = s.step ? Object.assign({}, s, { step: 0 }) : s;
    keep();
    if (s.paused && !paused) { paused = true; body.classList.add("paused"); layout.pause(); }
    if (!s.paused && paused) {
      paused = false; body.classList.remove("paused");
      var w = waiting; waiting = [];
      w.forEach(function (f) { f(); });
      layout.restart();
    }
    clearTimeout(featureTimer);
    var left = s.feature && s.until ? Date.parse(s.until) - Date.now() : 0;
    featureBox.textContent = "";
    if (s.feature && left > 0) {
      var card = render(s.feature);
      card.classList.add("featured");
      featureBox.appendChild(card);
      featureBox.hidden = false;
      body.classList.add("featuring");
      featureTimer = setTimeout(function () { featureBox.hidden = true; body.classList.remove("featuring"); }, left);
    } else {
      featureBox.hidden = true;
      body.classList.remove("featuring");
    }
    slideBox.textContent = "";
    if (s.slide) {
      if (s.slide.image) { var im = document.createElement("img"); im.src = s.slide.image; im.alt = ""; hideOnError(im, im); slideBox.appendChild(im); }
      if (s.slide.text) slideBox.appendChild(el("p", null, s.slide.text));
      slideBox.hidden = false;
      body.classList.add("holding");
    } else {
      slideBox.hidden = true;
      body.classList.remove("holding");
    }
    if (s.step) layout.step(s.step);
  }

  // --- the stream ---
  // EventSource reconnects by itself after a network error; when the
  // server answered with an error (it was restarting), it gives up, so
  // the page opens a new one, backing off up to a minute.
  function json(e) { try { return JSON.parse(e.data); } catch (_) { return null; } }
  var lastId = "", offlineTimer = null, retryDelay = 1000, src = null;
  function setOnline(on) {
    status.hidden = on;
    if (on) {
      clearTimeout(offlineTimer); offlineTimer = null;
      body.classList.remove("offline");
      status.textContent = T.reconnecting || "";
      return;
    }
    if (!offlineTimer) {
      offlineTimer = setTimeout(function () {
        status.textContent = T.offline || "";
        body.classList.add("offline");
      }, 60000);
    }
  }
  function connect() {
    var url = "/walls/" + encodeURIComponent(slug) + "/events" + (lastId ? "?lastEventId=" + encodeURIComponent(lastId) : "");
    src = new EventSource(url);
    var seen = lastId;
    function carriesId(e) { var c = e.lastEventId !== seen; seen = e.lastEventId; if (e.lastEventId) lastId = e.lastEventId; return c; }
    function on(type, fn) { src.addEventListener(type, function (e) { var live = carriesId(e); var d = json(e); if (d) fn(d, live); }); }
    on("post", held(function (p, isLive) { add(p, isLive); if (isLive) { live(); postForSponsors(); } }));
    on("update", held(function (p) { add(p, false); }));
    on("remove", held(function (p) { remove(p.id); }));
    on("show", show);
    on("poll", poll);
    on("room", room);
    on("pin", function (p) { var c = byId.get(p.id); if (c) { c.classList.add("pinned"); c.remove(); place(c); } else { add(p, true); } });
    on("unpin", function (p) { var c = byId.get(p.id); if (c) { c.classList.remove("pinned"); c.remove(); place(c); } });
    on("announce", announce);
    on("reset", function () { waiting = []; clear(); });
    on("config", function (s) { apply(s); });
    on("ready", function () { keep(); }); // the backfill is in: its id is the resume point
    on("screen", function (d) { screenToken = d.token || ""; }); // this stream's token for sponsor showings
    src.onopen = function () { retryDelay = 1000; setOnline(true); };
    src.onerror = function () {
      setOnline(false);
      if (src.readyState === EventSource.CLOSED) {
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 60000);
      }
    };
  }

  // --- embedding: tell the host page our height ---
  if (embed && window.parent !== window) {
    var lastH = 0;
    var report = function () {
      var h = Math.ceil(document.documentElement.scrollHeight);
      if (h !== lastH) { lastH = h; window.parent.postMessage({ type: "wallcast:height", height: h }, "*"); }
    };
    new ResizeObserver(report).observe(document.body);
    report();
  }

  apply(settings);
  restore();
  connect();
  live();
  armSponsors();
  setInterval(function () {
    list.querySelectorAll("time.ago").forEach(function (t) { t.textContent = ago(t.dateTime); });
  }, 30000);
})();
