// Arrivals per day: persons stacked by grid (bars) and residents on the lists (line),
// drawn with the vendored Chart.js from the page's json_script data.
(function () {
  "use strict";

  var PALETTE = ["#00796b", "#f9a825", "#5c6bc0", "#ef6c00", "#26a69a", "#8d6e63", "#ab47bc", "#7cb342",
                 "#29b6f6", "#ec407a"];

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var canvas = document.getElementById("arrivals-chart");
    var source = document.getElementById("arrivals-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var datasets = data.grids.map(function (grid, index) {
      return {
        type: "bar",
        label: grid.label,
        data: grid.persons,
        backgroundColor: PALETTE[index % PALETTE.length],
        stack: "persons",
        order: 2
      };
    });
    datasets.push({
      type: "line",
      label: data.text.residents,
      data: data.residents,
      borderColor: "#1d2a28",
      backgroundColor: "#1d2a28",
      borderWidth: 1.5,
      pointRadius: 0,
      tension: 0.2,
      order: 1
    });
    var phone = window.matchMedia && window.matchMedia("(max-width: 759px)").matches;
    new window.Chart(canvas, {
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
              title: function (items) { return items.length ? data.dates[items[0].dataIndex] : ""; }
            }
          }
        },
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: phone ? 6 : 16 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
               title: { display: !phone, text: data.text.persons } }
        }
      }
    });
  });
})();
