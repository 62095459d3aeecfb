/* The field pages' service worker (scope /visits/field/), served by visits/views_offline.py.

   Its URL carries the static version (?v=): a deployment with changed static files
   registers a new URL, this worker installs, takes over at once and the next online page
   comes from the new deployment.

   Pages and static files: network first, always. Only when the network fails (or does not
   answer within NETWORK_TIMEOUT_MS) does the phone's copy of the day answer, marked
   data-page-source="phone" so the page shows "offline, saved at HH:MM" (static/js/offline.js
   keeps the day when "today" opens online). The copy older than the session limit (?max_age=)
   is deleted instead of shown. Background Sync, where the browser has it, sends the outbox
   (static/js/outbox.js). */
"use strict";

var params = new URL(self.location.href).searchParams;
var DAY_CACHE = "zg-day";
var SAVED_AT = "X-ZG-Saved-At";
var NETWORK_TIMEOUT_MS = 8000;
var OFFLINE_PAGE = params.get("offline") || "";
var MAX_AGE_MS = (Number(params.get("max_age")) || 12 * 3600) * 1000;

// Only our own static files run here (the CSP of this script allows 'self' only as well).
[params.get("idb"), params.get("outbox")].forEach(function (path) {
  if (path && path.indexOf("/static/") === 0) { importScripts(path); }
});

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    // Caches of earlier designs; the day's copy stays (it is replaced on the next "today").
    return Promise.all(names.filter(function (name) { return name !== DAY_CACHE; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

function networkFirst(request) {
  var controller = new AbortController();
  var timer = setTimeout(function () { controller.abort(); }, NETWORK_TIMEOUT_MS);
  return fetch(request, { signal: controller.signal }).finally(function () { clearTimeout(timer); });
}

function fromDay(url) {
  // caches.match, not caches.open: looking must not create an empty copy.
  return caches.match(url, { cacheName: DAY_CACHE, ignoreVary: true }).then(function (response) {
    if (!response) { return null; }
    var savedAt = Number(response.headers.get(SAVED_AT)) || 0;
    if (Date.now() - savedAt > MAX_AGE_MS) {
      // The day outlived the session: nothing of it is shown any more.
      return caches.delete(DAY_CACHE).then(function () { return null; });
    }
    return response;
  });
}

function markedAsSaved(response) {
  return response.text().then(function (html) {
    var headers = new Headers(response.headers);
    return new Response(html.replace('data-page-source="network"', 'data-page-source="phone"'),
                        { status: 200, headers: headers });
  });
}

function page(request) {
  return networkFirst(request).catch(function () {
    return fromDay(request.url).then(function (kept) {
      return kept || (OFFLINE_PAGE ? fromDay(new URL(OFFLINE_PAGE, self.location.href).href) : null);
    }).then(function (kept) {
      return kept ? markedAsSaved(kept) : Response.error();
    });
  });
}

function asset(request) {
  return networkFirst(request).catch(function () {
    return fromDay(request.url).then(function (kept) { return kept || Response.error(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate") {
    event.respondWith(page(request));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(asset(request));
  }
});

function tellPages(message) {
  return self.clients.matchAll({ type: "window" }).then(function (pages) {
    pages.forEach(function (client) { client.postMessage(message); });
  });
}

// Without an open page: the outbox page names the user and carries a CSRF token.
function syncOutbox() {
  if (!self.ZGOutbox) { return Promise.resolve(); }
  var scope = self.registration.scope;
  return fetch(scope + "outbox/", { credentials: "same-origin" }).then(function (response) {
    if (!response.ok || response.redirected) { return null; }
    return response.text();
  }).then(function (html) {
    if (!html) { return null; }
    var user = /data-user="(\d+)"/.exec(html);
    var token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(html);
    var language = /<html lang="([^"]+)"/.exec(html);
    if (!user || !token) { return null; }
    return self.ZGOutbox.sendAll(user[1], token[1], language ? language[1] : "");
  }).then(function () { return tellPages({ type: "zg-outbox-changed" }); });
}

self.addEventListener("sync", function (event) {
  if (event.tag === "zg-outbox") { event.waitUntil(syncOutbox()); }
});
