/* The visit log form keeps what was typed on the phone (localStorage, one entry per visit)
   until the server has the log, so a dropped connection or a closed tab loses nothing.
   The submission key (client_key) is part of what is kept: a retried submit carries the
   same key and the server answers with the first log instead of writing a second. */
(function () {
  "use strict";
  var PREFIX = "zg-visit-log:";

  function storage() {
    try { return window.localStorage; } catch (error) { return null; }
  }

  function clearDrafts(store) {
    // "Today" marks visits that are no longer planned: their drafts are done with.
    document.querySelectorAll("[data-clear-draft]").forEach(function (element) {
      store.removeItem(PREFIX + element.getAttribute("data-clear-draft"));
    });
  }

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (element) {
      return element.name && element.type !== "file" && element.type !== "submit" &&
        element.name !== "csrfmiddlewaretoken" && element.type !== "button";
    });
  }

  function snapshot(form) {
    var values = {};
    fields(form).forEach(function (element) {
      if (element.type === "checkbox" || element.type === "radio") {
        if (element.checked) {
          (values[element.name] = values[element.name] || []).push(element.value);
        }
      } else {
        values[element.name] = element.value;
      }
    });
    return values;
  }

  function restore(form, values) {
    fields(form).forEach(function (element) {
      if (!(element.name in values)) {
        if (element.type === "checkbox" || element.type === "radio") { element.checked = false; }
        return;
      }
      var value = values[element.name];
      if (element.type === "checkbox" || element.type === "radio") {
        element.checked = Array.isArray(value) && value.indexOf(element.value) !== -1;
      } else if (element.type !== "hidden" || element.name === "client_key") {
        element.value = value;
      }
    });
    // Open the hazard and issue slots that hold something.
    form.querySelectorAll("details.field-item").forEach(function (details) {
      var filled = Array.prototype.some.call(details.querySelectorAll("input, select, textarea"), function (el) {
        return el.type !== "file" && el.type !== "hidden" && el.value;
      });
      if (filled) { details.open = true; }
    });
  }

  function setUp(form, store) {
    var key = PREFIX + form.getAttribute("data-visit-log");
    var serverRejected = form.querySelector(".form-error, .field-error") !== null;
    var saved = null;
    try { saved = JSON.parse(store.getItem(key) || "null"); } catch (error) { saved = null; }
    if (saved && !serverRejected) {
      // The page was reloaded (or the tab reopened): bring back the typing and the key.
      restore(form, saved);
      var notice = form.querySelector("[data-draft-notice]");
      if (notice) { notice.hidden = false; }
    } else if (saved && saved.client_key && form.elements.client_key) {
      // The server answered with errors and echoed the fields; keep the first key.
      form.elements.client_key.value = saved.client_key;
    }
    function save() { store.setItem(key, JSON.stringify(snapshot(form))); }
    save();
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    form.addEventListener("submit", function () {
      save();
      var offline = form.querySelector("[data-offline]");
      if (offline && navigator.onLine === false) { offline.hidden = false; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var store = storage();
    if (!store) { return; }
    clearDrafts(store);
    document.querySelectorAll("form[data-visit-log]").forEach(function (form) { setUp(form, store); });
  });
})();
