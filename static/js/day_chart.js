// Peak load rate of each projected day of an alert (the phone's one chart): bars coloured by
// level, with the watch/heavy/overload lines, drawn with the vendored Chart.js from the
// page's json_script data. Drawn only while its panel is shown (phones); a window widened
// past the breakpoint hides it and shows the hourly chart instead.
(function () {
  "use strict";

  var LINE_COLOURS = { overload: "#b3261e", heavy: "#ef6c00", watch: "#c9a400" };
  var BAR_COLOURS = {
    normal: "rgba(0, 121, 107, 0.55)", watch: "#e0c340", heavy: "#ef6c00", overload: "#b3261e", thermal: "#7a1010"
  };

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function draw(canvas, data) {
    var points = data.labels.length;
    var datasets = [{
      label: data.text.rate, data: data.rates, backgroundColor: data.levels.map(function (level) {
        return BAR_COLOURS[level] || BAR_COLOURS.normal;
      })
    }];
    data.lines.forEach(function (line) {
      var values = [];
      for (var i = 0; i < points; i += 1) values.push(line.pct);
      datasets.push({
        type: "line", label: line.label, data: values, fill: false,
        borderColor: LINE_COLOURS[line.kind] || "#555", borderWidth: line.kind === "overload" ? 2 : 1.25,
        borderDash: line.kind === "overload" ? [] : [6, 4], pointRadius: 0
      });
    });
    var top = Math.max.apply(null, data.rates.concat(data.lines.map(function (line) { return line.pct; })));
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 10, font: { size: 11 } } } },
        scales: {
          x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6, font: { size: 11 } } },
          y: { beginAtZero: true, suggestedMax: Math.ceil(top / 10) * 10 + 10,
               ticks: { font: { size: 11 }, callback: function (value) { return value + "%"; } } }
        }
      }
    });
  }

  ready(function () {
    var canvas = document.getElementById("day-chart");
    var source = document.getElementById("day-chart-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var chart = null;
    function maybeDraw() {
      if (chart === null && canvas.offsetParent !== null) chart = draw(canvas, data);
    }
    maybeDraw();
    if (chart === null && window.matchMedia) {
      window.matchMedia("(max-width: 759px)").addEventListener("change", maybeDraw);
    }
  });
})();
