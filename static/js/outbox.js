/* The outbox of visit logs made without signal, kept on the phone in IndexedDB (through the
   vendored `idb`). Shared by the pages (static/js/offline.js) and the service worker
   (static/js/field_sw.js, Background Sync), so both send the same way.

   Each item is one visit log as the API takes it (POST /api/v1/visit-logs/, photos in
   base64) with its client key: sending it twice stores it once, the server answering the
   second time with the first log. Items belong to the user who made them and are only
   sent in that user's session. States: waiting, login (the session ended: sent after the
   next sign-in), refused (kept with the server's message until corrected or discarded),
   sent. */
(function (root) {
  "use strict";
  var DB_NAME = "zg-field";
  var STORE = "outbox";
  var API = "/api/v1/visit-logs/";
  var PENDING = ["waiting", "login", "refused"];

  function open() {
    return root.idb.openDB(DB_NAME, 1, {
      upgrade: function (db) { db.createObjectStore(STORE, { keyPath: "key" }); }
    });
  }

  function all(user) {
    return open().then(function (db) { return db.getAll(STORE); }).then(function (items) {
      return items.filter(function (item) { return String(item.user) === String(user); })
        .sort(function (a, b) { return a.queued_at - b.queued_at; });
    });
  }

  function get(key) { return open().then(function (db) { return db.get(STORE, key); }); }
  function put(item) { return open().then(function (db) { return db.put(STORE, item); }); }
  function remove(key) { return open().then(function (db) { return db.delete(STORE, key); }); }

  function clearUser(user) {
    return all(user).then(function (items) {
      return Promise.all(items.map(function (item) { return remove(item.key); }));
    });
  }

  function pending(items) {
    return items.filter(function (item) { return PENDING.indexOf(item.state) !== -1; });
  }

  // Bytes the outbox holds on the phone (the photos are most of it).
  function bytes(items) {
    return items.reduce(function (sum, item) { return sum + (item.body ? item.bytes || 0 : 0); }, 0);
  }

  // The server's answer as one line: DRF gives {field: [messages]} or {detail: message}.
  function flatten(value) {
    if (value === null || value === undefined) { return ""; }
    if (typeof value === "string") { return value; }
    if (Array.isArray(value)) { return value.map(flatten).filter(Boolean).join(" "); }
    if (typeof value === "object") {
      return Object.keys(value).map(function (name) { return flatten(value[name]); }).filter(Boolean).join(" ");
    }
    return String(value);
  }

  function answerText(response) {
    return response.text().then(function (text) {
      try { return flatten(JSON.parse(text)); } catch (error) { return ""; }
    });
  }

  // One item; resolves to "sent", "refused", "login" or "stop" (no network or the server
  // down: the item stays waiting and the rest wait too).
  function sendOne(item, token, language) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token };
    // The API follows Accept-Language; the server's messages come in the portal's language.
    if (language) { headers["Accept-Language"] = language; }
    return root.fetch(API, {
      method: "POST",
      credentials: "same-origin",
      headers: headers,
      body: JSON.stringify(item.body)
    }).then(function (response) {
      if (response.status === 200 || response.status === 201) {
        return response.json().then(function (log) {
          item.state = "sent";
          item.sent_at = Date.now();
          item.log_url = log.page_url || "";
          item.reason = "";
          item.message = flatten(log.photo_warnings);
          delete item.body;  // the photos leave the phone once the portal has them
          return put(item).then(function () { return "sent"; });
        });
      }
      if (response.status === 401 || response.status === 403) {
        return answerText(response).then(function (message) {
          item.state = "login";
          item.reason = "session";
          item.message = message;
          return put(item).then(function () { return "login"; });
        });
      }
      if (response.status >= 500 || response.status === 429 || response.status === 408) {
        return "stop";
      }
      return answerText(response).then(function (message) {
        item.state = "refused";
        item.refused_at = Date.now();
        item.reason = response.status === 404 ? "not_found" : response.status === 413 ? "too_large" : "refused";
        item.message = message;
        return put(item).then(function () { return "refused"; });
      });
    }, function () { return "stop"; });
  }

  function sendPending(user, token, language) {
    var counts = { sent: 0, refused: 0, login: 0 };
    return all(user).then(function (items) {
      var queue = items.filter(function (item) { return item.state === "waiting" || item.state === "login"; });
      function next() {
        var item = queue.shift();
        if (!item) { return counts; }
        return sendOne(item, token, language).then(function (outcome) {
          if (outcome === "stop") { return counts; }
          counts[outcome] += 1;
          if (outcome === "login") {
            // The same session sends the rest: they wait for the sign-in as well.
            return Promise.all(queue.map(function (other) {
              other.state = "login";
              other.reason = "session";
              return put(other);
            })).then(function () { return counts; });
          }
          return next();
        });
      }
      return next();
    });
  }

  // One sender at a time on the phone (pages and the worker), where the browser has Web Locks.
  function sendAll(user, token, language) {
    if (!user || !token) { return Promise.resolve({ sent: 0, refused: 0, login: 0 }); }
    if (root.navigator && root.navigator.locks) {
      return root.navigator.locks.request("zg-outbox", function () { return sendPending(user, token, language); });
    }
    return sendPending(user, token, language);
  }

  root.ZGOutbox = {
    all: all, get: get, put: put, remove: remove, clearUser: clearUser, pending: pending, bytes: bytes,
    sendAll: sendAll, flatten: flatten
  };
})(self);
