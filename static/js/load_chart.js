// Projected hourly load of one asset: baseline and returning-household increment stacked,
// with the capacity and the 70/80/100 % lines, drawn with the vendored Chart.js from the
// page's json_script data.
(function () {
  "use strict";

  var LINE_COLOURS = { overload: "#b3261e", heavy: "#ef6c00", watch: "#c9a400" };

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var canvas = document.getElementById("load-chart");
    var source = document.getElementById("load-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var points = data.labels.length;
    var datasets = [
      {
        label: data.text.baseline, data: data.baseline, stack: "load", fill: "origin",
        borderColor: "#00796b", backgroundColor: "rgba(0, 121, 107, 0.35)", borderWidth: 1, pointRadius: 0
      },
      {
        label: data.text.increment, data: data.increment, stack: "load", fill: "-1",
        borderColor: "#ef6c00", backgroundColor: "rgba(239, 108, 0, 0.35)", borderWidth: 1, pointRadius: 0
      }
    ];
    data.lines.forEach(function (line) {
      var values = [];
      for (var i = 0; i < points; i += 1) values.push(line.kw);
      datasets.push({
        label: line.label, data: values, stack: "line-" + line.kind, fill: false,
        borderColor: LINE_COLOURS[line.kind] || "#555", borderWidth: line.kind === "overload" ? 2 : 1.25,
        borderDash: line.kind === "overload" ? [] : [6, 4], pointRadius: 0
      });
    });
    // Hidden (the alert page on a phone shows its day chart instead): drawn once shown.
    if (canvas.offsetParent === null && window.matchMedia) {
      var wide = window.matchMedia("(min-width: 760px)");
      var whenShown = function () {
        if (canvas.offsetParent === null) return;
        wide.removeEventListener("change", whenShown);
        build();
      };
      wide.addEventListener("change", whenShown);
      return;
    }
    build();

    function build() {
      var phone = window.matchMedia && window.matchMedia("(max-width: 759px)").matches;
      new window.Chart(canvas, {
        type: "line",
        data: { labels: data.labels, datasets: datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          plugins: {
            legend: { position: "bottom", labels: { boxWidth: 12, font: { size: phone ? 11 : 12 } } },
            tooltip: {
              callbacks: {
                label: function (item) { return item.dataset.label + ": " + Number(item.raw).toFixed(1) + " " + data.text.kw; }
              }
            }
          },
          scales: {
            x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: phone ? 5 : 12 } },
            y: { stacked: true, beginAtZero: true, title: { display: !phone, text: data.text.kw } }
          }
        }
      });
    }
  });
})();
