// The screens' service worker: a screen that reloads while the network or
// the server is away (a kiosk reboots, a signage player restarts the page)
// still shows the wall as it was. The page, its scripts, styles and the
// wall's files come from the network first and from the cache when it is
// away; the posts' pictures and videos from the cache first, the oldest
// going first once they pass MAX_MEDIA bytes. The event stream, the API,
// the console and the phones' form are never cached. The posts themselves
// are kept by the page (localStorage), not here.
"use strict";
var PAGES = "wallcast-pages-v1", MEDIA = "wallcast-media-v1", INDEX = "wallcast-media-index";
var MAX_MEDIA = 200 * 1024 * 1024;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (e) { e.waitUntil(self.clients.claim()); });

function never(url) {
  return url.origin === location.origin && (/\/events$/.test(url.pathname) || url.pathname.indexOf("/api/") === 0 ||
    url.pathname.indexOf("/admin") === 0 || /^\/walls\/[^/]+\/post(\/|$)/.test(url.pathname) || url.pathname === "/stats");
}

self.addEventListener("fetch", function (e) {
  var req = e.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (never(url)) return;
  if (url.origin === location.origin && req.destination !== "image" && req.destination !== "video") {
    e.respondWith(networkFirst(req));
  } else if (req.destination === "image" || req.destination === "video") {
    e.respondWith(cacheFirst(req));
  }
});

// networkFirst: the page and its files as the server has them now; the
// cached copy when it cannot be reached.
function networkFirst(req) {
  return fetch(req).then(function (resp) {
    if (resp.ok) {
      var copy = resp.clone();
      caches.open(PAGES).then(function (c) { c.put(req, copy); });
    }
    return resp;
  }).catch(function () {
    return caches.open(PAGES).then(function (c) {
      return c.match(req, { ignoreSearch: req.mode !== "navigate" }).then(function (hit) {
        return hit || Response.error();
      });
    });
  });
}

// cacheFirst: a post's picture is the same for ever; kept, counted, and
// the oldest dropped past MAX_MEDIA bytes.
function cacheFirst(req) {
  return caches.open(MEDIA).then(function (c) {
    return c.match(req).then(function (hit) {
      if (hit) return hit;
      return fetch(req).then(function (resp) {
        if (resp.ok || resp.type === "opaque") {
          // An opaque answer (another site's picture) does not say its
          // size: it counts as 1 MiB.
          var size = Number(resp.headers.get("Content-Length")) || 1024 * 1024;
          c.put(req, resp.clone()).then(function () { return note(req.url, size); }).catch(function () { /* not kept */ });
        }
        return resp;
      });
    });
  });
}

// note records a kept item's size and drops the oldest past the limit.
var noting = Promise.resolve();
function note(url, size) {
  noting = noting.then(function () {
    return caches.open(INDEX).then(function (ic) {
      return ic.match("/index").then(function (r) { return r ? r.json() : []; }).then(function (list) {
        list = list.filter(function (x) { return x[0] !== url; });
        list.push([url, size]);
        var total = list.reduce(function (s, x) { return s + x[1]; }, 0);
        var drop = [];
        while (total > MAX_MEDIA && list.length > 1) { var old = list.shift(); total -= old[1]; drop.push(old[0]); }
        return caches.open(MEDIA).then(function (mc) {
          return Promise.all(drop.map(function (u) { return mc.delete(u); }));
        }).then(function () {
          return ic.put("/index", new Response(JSON.stringify(list), { headers: { "Content-Type": "application/json" } }));
        });
      });
    });
  }).catch(function () {});
  return noting;
}
