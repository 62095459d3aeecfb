// Returning residents: "all on this page" for bulk status changes, and revealing one
// phone or ID number in place. Both pages work without this file (plain forms).
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function setupBulk(form) {
    var all = form.querySelector("[data-pick-all]");
    var counter = form.querySelector("[data-picked-count]");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input.res-pick"));
    function update() {
      var picked = boxes.filter(function (box) { return box.checked; }).length;
      if (counter) counter.textContent = picked ? String(picked) + " ✓" : "";
      if (all) {
        all.checked = picked > 0 && picked === boxes.length;
        all.indeterminate = picked > 0 && picked < boxes.length;
      }
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        update();
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", update); });
    update();
  }

  function setupReveal(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button");
      var cell = form.closest("[data-personal]");
      var target = cell && cell.querySelector("[data-personal-value]");
      button.disabled = true;
      fetch(window.location.pathname, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-Requested-With": "fetch" }
      }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      }).then(function (data) {
        if (target) target.textContent = data.value || "—";
        if (data.tel) {
          var call = document.createElement("a");
          call.className = "btn btn-small btn-primary";
          call.href = data.tel;
          call.textContent = button.getAttribute("data-call-label") || "Call";
          form.replaceWith(call);
        } else {
          form.remove();
        }
      }).catch(function () {
        // Fall back to the plain form post, which answers the page with the value.
        button.disabled = false;
        form.submit();
      });
    });
  }

  ready(function () {
    document.querySelectorAll("[data-bulk-form]").forEach(setupBulk);
    document.querySelectorAll("[data-reveal-form]").forEach(setupReveal);
  });
})();
