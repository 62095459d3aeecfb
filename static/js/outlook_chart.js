// Daily peak load of one outlook asset: baseline, registered and estimated increase stacked,
// with the 70/80/100 % lines, drawn with the vendored Chart.js from the page's json_script data.
(function () {
  "use strict";

  var LINE_COLOURS = { overload: "#b3261e", heavy: "#ef6c00", watch: "#c9a400" };

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var canvas = document.getElementById("outlook-chart");
    var source = document.getElementById("outlook-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var points = data.labels.length;
    var datasets = [
      { label: data.text.baseline, data: data.baseline, stack: "load", backgroundColor: "rgba(0, 121, 107, 0.55)" },
      { label: data.text.registered, data: data.registered, stack: "load", backgroundColor: "rgba(239, 108, 0, 0.7)" },
      { label: data.text.estimated, data: data.estimated, stack: "load", backgroundColor: "rgba(239, 108, 0, 0.3)" }
    ];
    data.lines.forEach(function (line) {
      var values = [];
      for (var i = 0; i < points; i += 1) values.push(line.kw);
      datasets.push({
        type: "line", label: line.label, data: values, stack: "line-" + line.kind, fill: false,
        borderColor: LINE_COLOURS[line.kind] || "#555", borderWidth: line.kind === "overload" ? 2 : 1.25,
        borderDash: line.kind === "overload" ? [] : [6, 4], pointRadius: 0
      });
    });
    var phone = window.matchMedia && window.matchMedia("(max-width: 759px)").matches;
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12, font: { size: phone ? 11 : 12 } } } },
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: phone ? 6 : 15 } },
          y: { stacked: true, beginAtZero: true, title: { display: !phone, text: data.text.kw } }
        }
      }
    });
  });
})();
