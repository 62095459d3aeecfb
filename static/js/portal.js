// Small progressive enhancements; every page works without them except the phone menu.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var toggle = document.querySelector("[data-menu-toggle]");
    if (toggle) {
      toggle.addEventListener("click", function () {
        var open = document.body.classList.toggle("nav-open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
      document.addEventListener("keydown", function (event) {
        if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
          document.body.classList.remove("nav-open");
          toggle.setAttribute("aria-expanded", "false");
          toggle.focus();
        }
      });
    }

    // Filters start folded on phones and open on wider screens.
    if (window.matchMedia && window.matchMedia("(min-width: 760px)").matches) {
      document.querySelectorAll("details[data-open-on-desktop]").forEach(function (details) {
        details.open = true;
      });
    }
  });
})();
