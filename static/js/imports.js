// Progress of an import job running in the background: polls the job's JSON status and
// reloads the page when the job has finished (the page then shows the preview or result).
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var box = document.querySelector("[data-import-status]");
    if (!box || !window.fetch) return;
    var url = box.getAttribute("data-import-status");
    var bar = box.querySelector("[data-import-bar]");
    var phase = box.querySelector("[data-import-phase]");
    var percent = box.querySelector("[data-import-percent]");
    var delay = 1000;
    var failures = 0;

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (status) {
          failures = 0;
          if (bar) bar.value = status.percent;
          if (percent) percent.textContent = status.percent;
          if (phase && status.phase_label) phase.textContent = status.phase_label;
          if (status.finished) {
            window.location.reload();
            return;
          }
          delay = Math.min(delay + 500, 3000);
          window.setTimeout(poll, delay);
        })
        .catch(function () {
          failures += 1;
          if (failures < 20) window.setTimeout(poll, 5000);
        });
    }

    window.setTimeout(poll, delay);
  });
})();
