// The "select all" box of django-import-export's export page, bound here instead of an
// inline onchange= attribute (strict CSP). onSelectToggleChange comes from the package's
// export_selectable_fields.js, loaded by the form's media.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input.select-toggle").forEach(function (box) {
    box.addEventListener("change", function (event) {
      if (typeof window.onSelectToggleChange === "function") {
        window.onSelectToggleChange(event);
      }
    });
  });
});
