/* The field app without signal, on the page side (the worker is static/js/field_sw.js,
   the outbox static/js/outbox.js). See docs/security.md, "The phone's copy".

   - Field pages register the service worker; "today", opened online, keeps the day on the
     phone (the pages and files listed in data-keep-urls, nothing else).
   - A page answered from the phone's copy shows "offline, saved at HH:MM".
   - The visit log form, without signal, puts the log in the outbox (photos resized to the
     server's limits first), within the storage budget; the badge counts what waits.
   - The outbox is sent on page load, when the network returns, and by Background Sync.
   - Sign-out asks first when logs wait, then clears the phone's copy.
   Every text comes from the templates (data-offline-strings), in the user's language. */
(function () {
  "use strict";
  var DAY_CACHE = "zg-day";
  var DAY_META = "zg-day";
  var DRAFT_PREFIX = "zg-visit-log:";
  var FLASH = "zg-offline-flash";
  var PHOTO_ESTIMATE = 1024 * 1024;  // room a resized photo may need, checked before it is taken in
  var strings = {};
  var config = null;
  var user = "";

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function text(name) { return strings[name] || ""; }

  function fromPhone() { return document.body.getAttribute("data-page-source") === "phone"; }

  function offlineNow() { return navigator.onLine === false || fromPhone(); }

  function controlled() { return "serviceWorker" in navigator && !!navigator.serviceWorker.controller; }

  function csrfToken() {
    var match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie);
    if (match) { return decodeURIComponent(match[1]); }
    var input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function notice(message) {
    var element = document.querySelector("[data-offline-notice]");
    if (element && message) { element.textContent = message; element.hidden = false; }
  }

  function pad(number) { return (number < 10 ? "0" : "") + number; }

  function timeOf(ms) {
    var date = new Date(ms);
    var now = new Date();
    var clock = pad(date.getHours()) + ":" + pad(date.getMinutes());
    if (date.toDateString() === now.toDateString()) { return clock; }
    return pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " + clock;
  }

  // --- The day on the phone --------------------------------------------------------

  function clearDay() {
    try { window.localStorage.removeItem(DAY_META); } catch (error) { /* storage off */ }
    return window.caches ? window.caches.delete(DAY_CACHE) : Promise.resolve();
  }

  function dayBytes() {
    try {
      var meta = JSON.parse(window.localStorage.getItem(DAY_META) || "null");
      return meta && String(meta.user) === String(user) ? meta.bytes || 0 : 0;
    } catch (error) { return 0; }
  }

  function keepDay(urls) {
    if (!window.caches) { return Promise.resolve(); }
    var savedAt = String(Date.now());
    var total = 0;
    return window.caches.open(DAY_CACHE).then(function (cache) {
      return Promise.all(urls.map(function (url) {
        return fetch(url, { credentials: "same-origin", cache: "no-cache" }).then(function (response) {
          if (!response.ok || response.redirected) { throw new Error("not kept: " + url); }
          return response.blob().then(function (blob) {
            var headers = new Headers(response.headers);
            headers.set("X-ZG-Saved-At", savedAt);
            total += blob.size;
            return cache.put(url, new Response(blob, { status: 200, headers: headers }));
          });
        });
      })).then(function () {
        // What is no longer part of the day (a visit logged or cancelled) leaves the phone.
        var wanted = urls.map(function (url) { return new URL(url, window.location.href).href; });
        return cache.keys().then(function (requests) {
          return Promise.all(requests.filter(function (request) { return wanted.indexOf(request.url) === -1; })
            .map(function (request) { return cache.delete(request); }));
        });
      });
    }).then(function () {
      window.localStorage.setItem(DAY_META, JSON.stringify(
        { user: user, saved_at: Number(savedAt), bytes: total, count: urls.length }));
      var kept = document.querySelector("[data-day-kept]");
      if (kept) { kept.hidden = false; kept.setAttribute("data-bytes", String(total)); }
    }).catch(function () { /* the day stays as it was; the next online "today" tries again */ });
  }

  function registerWorker() {
    if (!config || !("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.register(config.getAttribute("data-sw-url"),
                                     { scope: config.getAttribute("data-sw-scope") })
      .catch(function () { /* the pages still work online */ });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "zg-outbox-changed") { refresh(); }
    });
  }

  function askForSync() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.getRegistration(config ? config.getAttribute("data-sw-scope") : undefined)
      .then(function (registration) {
        if (registration && registration.sync) { return registration.sync.register("zg-outbox"); }
      }).catch(function () { /* sent on the next page load or reconnect instead */ });
  }

  // --- Badge, sending, the outbox page ----------------------------------------------

  var refreshing = null;

  function refresh() {
    if (!window.ZGOutbox || !user) { return Promise.resolve([]); }
    refreshing = window.ZGOutbox.all(user).then(function (items) {
      var waiting = window.ZGOutbox.pending(items);
      var link = document.querySelector("[data-outbox-link]");
      var count = document.querySelector("[data-outbox-count]");
      if (count) { count.textContent = String(waiting.length); }
      if (link) { link.hidden = waiting.length === 0; link.setAttribute("data-count", String(waiting.length)); }
      document.querySelectorAll("[data-queued-visit]").forEach(function (element) {
        var visit = element.getAttribute("data-queued-visit");
        element.hidden = !waiting.some(function (item) { return String(item.visit) === visit; });
      });
      var login = document.querySelector("[data-outbox-login]");
      if (login) { login.hidden = !items.some(function (item) { return item.state === "login"; }); }
      renderList(items);
      return items;
    });
    return refreshing;
  }

  var sending = null;

  // One send at a time from this page; a second call waits for the first.
  function send() {
    if (!window.ZGOutbox || !user || navigator.onLine === false) { return Promise.resolve(); }
    if (sending) { return sending; }
    sending = window.ZGOutbox.sendAll(user, csrfToken(), document.documentElement.lang).then(function (counts) {
      sending = null;
      if (counts.sent) { notice(text("sent-now")); }
      if (counts.login) { sessionNotice(); }
      return refresh();
    }, function () { sending = null; return refresh(); });
    return sending;
  }

  function sessionNotice() {
    var element = document.querySelector("[data-offline-notice]");
    var list = document.querySelector("[data-outbox-list]");
    if (!element || document.querySelector("[data-outbox-login]")) { return; }
    var next = list ? list.getAttribute("data-login-url") : null;
    element.textContent = text("session") + " ";
    var link = document.createElement("a");
    link.href = next || "/accounts/login/?next=" + encodeURIComponent(window.location.pathname);
    link.textContent = text("sign-in");
    link.setAttribute("data-sign-in", "");
    element.appendChild(link);
    element.hidden = false;
  }

  function reasonText(item) {
    if (item.reason === "not_found") { return text("not-found"); }
    if (item.reason === "too_large") { return text("too-large"); }
    if (item.reason === "session") { return text("session"); }
    return "";
  }

  function renderList(items) {
    var list = document.querySelector("[data-outbox-list]");
    if (!list) { return; }
    list.textContent = "";
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = text("empty");
      list.appendChild(empty);
      return;
    }
    items.slice().reverse().forEach(function (item) {
      var row = document.createElement("li");
      row.className = "outbox-item outbox-" + item.state;
      row.setAttribute("data-outbox-item", item.key);
      row.setAttribute("data-state", item.state);
      var head = document.createElement("div");
      head.className = "outbox-head";
      var title = document.createElement("strong");
      title.textContent = item.label;
      var state = document.createElement("span");
      state.className = "outbox-state";
      state.textContent = text(item.state);
      head.appendChild(title);
      head.appendChild(state);
      row.appendChild(head);
      var facts = document.createElement("p");
      facts.className = "muted";
      var parts = [text("queued-at") + " " + timeOf(item.queued_at)];
      if (item.sent_at) { parts.push(text("sent-at") + " " + timeOf(item.sent_at)); }
      parts.push(text("photos") + " " + item.photos + " · " + text("hazards") + " " + item.hazards);
      facts.textContent = parts.join(" · ");
      row.appendChild(facts);
      var why = [reasonText(item), item.message].filter(Boolean).join(" ");
      if (why) {  // a sent log can carry the server's photo warnings
        var message = document.createElement("p");
        message.className = "outbox-message";
        message.setAttribute("data-outbox-message", "");
        message.textContent = why;
        row.appendChild(message);
      }
      var actions = document.createElement("div");
      actions.className = "field-actions";
      if (item.state === "sent" && item.log_url) {
        actions.appendChild(linkTo(item.log_url, text("view"), "btn btn-quiet"));
      }
      if (item.state === "refused") {
        if (item.form_url && item.reason !== "not_found") {
          actions.appendChild(linkTo(item.form_url + "?fix=" + encodeURIComponent(item.key), text("edit"),
                                     "btn btn-primary"));
        }
        var discard = document.createElement("button");
        discard.type = "button";
        discard.className = "btn btn-danger";
        discard.setAttribute("data-outbox-discard", item.key);
        discard.textContent = text("discard");
        actions.appendChild(discard);
      }
      if (actions.childNodes.length) { row.appendChild(actions); }
      list.appendChild(row);
    });
  }

  function linkTo(href, label, className) {
    var link = document.createElement("a");
    link.href = href;
    link.className = className;
    link.textContent = label;
    return link;
  }

  function setUpOutboxPage() {
    var list = document.querySelector("[data-outbox-list]");
    if (!list) { return; }
    list.addEventListener("click", function (event) {
      var button = event.target.closest("[data-outbox-discard]");
      if (!button) { return; }
      if (!window.confirm(text("discard-confirm"))) { return; }
      window.ZGOutbox.remove(button.getAttribute("data-outbox-discard")).then(refresh);
    });
    var sendButton = document.querySelector("[data-outbox-send]");
    if (sendButton) { sendButton.addEventListener("click", function () { send(); }); }
  }

  // --- Photos and the budget ---------------------------------------------------------

  function budget() { return config ? Number(config.getAttribute("data-budget")) || 0 : 0; }

  function usedBytes(extra) {
    return window.ZGOutbox.all(user).then(function (items) {
      return window.ZGOutbox.bytes(items) + dayBytes() + (extra || 0);
    });
  }

  function readAsBase64(blob) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result).split(",")[1] || ""); };
      reader.onerror = reject;
      reader.readAsDataURL(blob);
    });
  }

  // The server's limits (visits/photos.py): long side and bytes; JPEG.
  function shrink(file) {
    var maxSide = Number(config.getAttribute("data-photo-max-side")) || 1600;
    var maxBytes = Number(config.getAttribute("data-photo-max-bytes")) || 8 * 1024 * 1024;
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      function encode(quality) {
        return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); })
          .then(function (blob) {
            if (blob && blob.size > maxBytes && quality > 0.4) { return encode(quality - 0.15); }
            return blob;
          });
      }
      return encode(0.85);
    });
  }

  function photoError(input, message) {
    var holder = input.closest(".field") || input.parentNode;
    var error = holder.querySelector("[data-photo-error]");
    if (!error) {
      error = document.createElement("p");
      error.className = "field-error";
      error.setAttribute("data-photo-error", "");
      holder.appendChild(error);
    }
    error.textContent = message || "";
    error.hidden = !message;
  }

  function setUpPhotos(form, photos) {
    form.querySelectorAll('input[type="file"]').forEach(function (input) {
      // Told before the camera opens, not after: the outbox would not take another photo.
      input.addEventListener("click", function (event) {
        if (input.getAttribute("data-room-checked") === "yes") { input.removeAttribute("data-room-checked"); return; }
        event.preventDefault();
        usedBytes(PHOTO_ESTIMATE).then(function (used) {
          if (budget() && used > budget()) { photoError(input, text("budget-full")); return; }
          photoError(input, "");
          input.setAttribute("data-room-checked", "yes");
          input.click();
        });
      });
      input.addEventListener("change", function () {
        var file = input.files && input.files[0];
        delete photos[input.name];
        input.removeAttribute("data-photo-ready");
        if (!file) { return; }
        shrink(file).then(function (blob) {
          return usedBytes(blob.size).then(function (used) {
            if (budget() && used > budget()) {
              input.value = "";
              photoError(input, text("budget-full"));
              return;
            }
            photos[input.name] = blob;
            photoError(input, "");
            input.setAttribute("data-photo-ready", String(blob.size));
            // Online the form uploads the resized photo as well.
            if (window.DataTransfer) {
              var transfer = new DataTransfer();
              transfer.items.add(new File([blob], (file.name || "photo").replace(/\.\w+$/, "") + ".jpg",
                                          { type: "image/jpeg" }));
              input.files = transfer.files;
            }
          });
        }, function () {
          input.value = "";
          photoError(input, text("photo-unreadable"));
        });
      });
    });
  }

  // --- The visit log form without signal ---------------------------------------------

  function value(form, name) {
    var element = form.elements[name];
    return element && typeof element.value === "string" ? element.value.trim() : "";
  }

  function checked(form, name) {
    return Array.prototype.filter.call(form.querySelectorAll('input[name="' + name + '"]'), function (input) {
      return input.checked;
    });
  }

  function snapshot(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!element.name || element.type === "file" || element.name === "csrfmiddlewaretoken") { return; }
      if (element.type === "checkbox" || element.type === "radio") {
        if (element.checked) { (values[element.name] = values[element.name] || []).push(element.value); }
      } else if (element.type !== "submit" && element.type !== "button") {
        values[element.name] = element.value;
      }
    });
    return values;
  }

  function restore(form, values) {
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!element.name || element.type === "file" || element.name === "csrfmiddlewaretoken") { return; }
      var saved = values[element.name];
      if (element.type === "checkbox" || element.type === "radio") {
        element.checked = Array.isArray(saved) && saved.indexOf(element.value) !== -1;
      } else if (saved !== undefined && element.type !== "submit" && element.type !== "button") {
        element.value = saved;
      }
    });
    form.querySelectorAll("details.field-item").forEach(function (details) {
      details.open = Array.prototype.some.call(details.querySelectorAll("input, select, textarea"), function (el) {
        return el.type !== "file" && el.type !== "hidden" && el.value;
      });
    });
  }

  // The API's body (visits/api_field.py) from the form; null with a message when incomplete.
  function buildLog(form, photoSlots) {
    var body = {
      visit: Number(form.getAttribute("data-visit-log")),
      client_key: value(form, "client_key"),
      met_person: value(form, "met_person"),
      needs: value(form, "needs"),
      concerns: value(form, "concerns"),
      guidance: checked(form, "guidance").map(function (input) { return input.value; }),
      checklist: [],
      hazards: [],
      issues: [],
      cards_handed_out: Number(value(form, "cards_handed_out")) || 0,
      cards_posted: Number(value(form, "cards_posted")) || 0,
      residents_confirmed: checked(form, "residents").map(function (input) { return Number(input.value); }),
      photos: []
    };
    // Ticked advice is recorded as its text, as the web form does.
    var advice = checked(form, "recommendation_templates").map(function (input) {
      return input.parentNode.textContent.trim();
    });
    if (value(form, "recommendations")) { advice.push(value(form, "recommendations")); }
    body.recommendations = advice.join("\n");
    Array.prototype.forEach.call(form.querySelectorAll('input[type="radio"][name^="check_"]'), function (input) {
      if (input.checked && input.value) { body.checklist.push({ item: input.name.slice(6), result: input.value }); }
    });
    var slots = [];  // [input name, hazard index or null]
    var total = Number(value(form, "hazard-TOTAL_FORMS")) || 0;
    for (var i = 0; i < total; i += 1) {
      var prefix = "hazard-" + i + "-";
      var hazard = { severity: value(form, prefix + "severity"), deadline: value(form, prefix + "deadline"),
                     description: value(form, prefix + "description") };
      var started = hazard.severity || hazard.deadline || hazard.description || photoSlots[prefix + "photo"];
      if (!started) { continue; }
      if (!hazard.severity || !hazard.deadline || !hazard.description) { return { error: text("hazard-incomplete") }; }
      slots.push([prefix + "photo", body.hazards.length]);
      body.hazards.push(hazard);
    }
    var issues = Number(value(form, "issue-TOTAL_FORMS")) || 0;
    for (var j = 0; j < issues; j += 1) {
      var issue = { category: value(form, "issue-" + j + "-category"), description: value(form, "issue-" + j + "-description") };
      if (!issue.category && !issue.description) { continue; }
      if (!issue.category || !issue.description) { return { error: text("issue-incomplete") }; }
      body.issues.push(issue);
    }
    slots.unshift(["photo", null]);
    return { body: body, slots: slots };
  }

  function queueLog(form, photos, fixing) {
    var built = buildLog(form, Object.assign({}, fixing ? fixing.photo_slots || {} : {}, photos));
    var errorBox = form.querySelector("[data-offline-error]");
    if (built.error) {
      errorBox.textContent = built.error;
      errorBox.hidden = false;
      errorBox.scrollIntoView();
      return Promise.resolve();
    }
    var kept = fixing ? fixing.photo_slots || {} : {};
    var slotData = {};
    return Promise.all(built.slots.map(function (slot) {
      var name = slot[0];
      if (photos[name]) {
        return readAsBase64(photos[name]).then(function (data) { slotData[name] = data; });
      }
      if (kept[name]) { slotData[name] = kept[name]; }
      return null;
    })).then(function () {
      built.slots.forEach(function (slot) {
        if (slotData[slot[0]]) { built.body.photos.push({ data: slotData[slot[0]], hazard: slot[1] }); }
      });
      var size = JSON.stringify(built.body).length;
      return usedBytes(size - (fixing && fixing.body ? fixing.bytes || 0 : 0)).then(function (used) {
        if (budget() && used > budget()) {
          errorBox.textContent = text("budget-full");
          errorBox.hidden = false;
          return;
        }
        var item = {
          key: built.body.client_key,
          user: user,
          visit: built.body.visit,
          label: form.getAttribute("data-visit-label"),
          form_url: window.location.pathname,
          state: "waiting",
          queued_at: Date.now(),
          body: built.body,
          bytes: size,
          photos: built.body.photos.length,
          hazards: built.body.hazards.length,
          photo_slots: slotData,
          fields: snapshot(form)
        };
        return window.ZGOutbox.put(item).then(function () {
          try {
            window.localStorage.removeItem(DRAFT_PREFIX + built.body.visit);
            window.sessionStorage.setItem(FLASH, "queued");
          } catch (error) { /* storage off: the outbox has the log */ }
          askForSync();
          window.location.href = form.getAttribute("data-today-url");
        });
      });
    });
  }

  function setUpLogForm() {
    var form = document.querySelector("form[data-visit-log]");
    if (!form || !window.ZGOutbox) { return; }
    var photos = {};
    var fixing = null;
    setUpPhotos(form, photos);
    var fixKey = new URLSearchParams(window.location.search).get("fix");
    if (fixKey) {
      window.ZGOutbox.get(fixKey).then(function (item) {
        if (!item || String(item.user) !== String(user)) { return; }
        fixing = item;
        restore(form, item.fields || {});
        var fixNotice = form.querySelector("[data-fix-notice]");
        if (fixNotice) { fixNotice.hidden = false; }
      });
    }
    form.addEventListener("submit", function (event) {
      // Without a worker the phone could not open "today" after it: the browser posts the
      // form and the typing stays a draft (static/js/visit_log.js).
      if (!controlled() && !fixing) { return; }
      event.preventDefault();
      event.stopImmediatePropagation();
      // Offline, or a correction from the outbox: through the outbox.
      if (fixing || offlineNow()) { queueLog(form, photos, fixing); } else { postOnline(form, photos); }
    });
  }

  var POST_TIMEOUT_MS = 45000;

  // Online: the form is posted as usual, but a connection that drops on the way (or the
  // session that ended meanwhile) puts the log in the outbox with its photos instead of
  // losing them. Sending it twice is harmless: the client key stores it once.
  function postOnline(form, photos) {
    var button = form.querySelector("[data-submit]");
    if (button) { button.disabled = true; }
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, POST_TIMEOUT_MS);
    function toOutbox() { return queueLog(form, photos, null); }
    fetch(window.location.pathname, { method: "POST", body: new FormData(form), credentials: "same-origin",
                                      redirect: "manual", signal: controller.signal })
      .then(function (response) {
        clearTimeout(timer);
        if (response.type === "opaqueredirect") {
          // Saved (the page sends to "today") or signed out (to the login): the API tells which.
          return fetch("/api/v1/visit-logs/?page_size=1", { credentials: "same-origin",
                                                             headers: { "Accept": "application/json" } })
            .then(function (check) {
              if (!check.ok) { return toOutbox(); }
              window.location.href = form.getAttribute("data-today-url");
            }, toOutbox);
        }
        // The server answered with the form and what is wrong in it: let the browser show that page.
        if (button) { button.disabled = false; }
        form.submit();
      }, function () {
        clearTimeout(timer);
        if (button) { button.disabled = false; }
        return toOutbox();
      });
  }

  // --- Sign-out ------------------------------------------------------------------------

  function clearPhone(discardOutbox) {
    try {
      Object.keys(window.localStorage).forEach(function (key) {
        if (key.indexOf(DRAFT_PREFIX) === 0) { window.localStorage.removeItem(key); }
      });
      window.sessionStorage.removeItem(FLASH);
    } catch (error) { /* storage off */ }
    var outbox = window.ZGOutbox ? window.ZGOutbox.all(user).then(function (items) {
      return Promise.all(items.filter(function (item) {
        return discardOutbox || item.state === "sent";
      }).map(function (item) { return window.ZGOutbox.remove(item.key); }));
    }) : Promise.resolve();
    return Promise.all([clearDay(), outbox]).catch(function () { return null; });
  }

  function setUpSignOut() {
    var dialog = document.querySelector("[data-signout-dialog]");
    var chosen = null;
    function leave(form, discard) {
      clearPhone(discard).then(function () { form.submit(); });
    }
    document.querySelectorAll(".logout-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        chosen = form;
        if (!window.ZGOutbox) { leave(form, true); return; }
        window.ZGOutbox.all(user).then(function (items) {
          if (!window.ZGOutbox.pending(items).length || !dialog) { leave(form, true); return; }
          dialog.showModal();
        }, function () { leave(form, true); });
      });
    });
    if (!dialog) { return; }
    dialog.querySelector("[data-signout-cancel]").addEventListener("click", function () { dialog.close(); });
    dialog.querySelector("[data-signout-anyway]").addEventListener("click", function () {
      dialog.close();
      leave(chosen, true);
    });
    dialog.querySelector("[data-signout-send]").addEventListener("click", function () {
      send().then(function () { return window.ZGOutbox.all(user); }).then(function (items) {
        if (!window.ZGOutbox.pending(items).length) {
          dialog.close();
          leave(chosen, false);
        }
      });
    });
  }

  ready(function () {
    var holder = document.querySelector("[data-offline-strings]");
    if (holder) {
      Array.prototype.forEach.call(holder.attributes, function (attribute) {
        if (attribute.name.indexOf("data-") === 0) { strings[attribute.name.slice(5)] = attribute.value; }
      });
    }
    config = document.querySelector("[data-offline-config]");
    user = document.body.getAttribute("data-user") || "";
    if (!user) {
      // Signed out or the session ended: the day's copy goes (the outbox waits for the sign-in).
      clearDay();
      return;
    }
    if (fromPhone()) {
      var banner = document.querySelector("[data-offline-banner]");
      if (banner) { banner.hidden = false; }
    }
    registerWorker();
    var keep = config && config.getAttribute("data-keep-urls");
    if (keep && "serviceWorker" in navigator && !fromPhone() && navigator.onLine !== false) {
      keepDay(keep.split(" "));
    }
    try {
      if (window.sessionStorage.getItem(FLASH) === "queued") {
        window.sessionStorage.removeItem(FLASH);
        notice(text("queued"));
      }
    } catch (error) { /* storage off */ }
    setUpLogForm();
    setUpOutboxPage();
    setUpSignOut();
    if (!window.ZGOutbox) { return; }
    refresh().then(function () { if (!fromPhone()) { return send(); } });
    window.addEventListener("online", function () { send(); });
  });
})();
