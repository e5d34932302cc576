/* yecai console: the report charts (project P&L). Reads each [data-report-chart] element's JSON —
   {kind: "bars" | "line", labels: [...], series: [{name, values}]} — and draws it with the
   vendored ECharts. Our own origin only (strict CSP: no inline script, no eval). */
(function () {
  "use strict";

  var COLOURS = ["#1f5fa8", "#c62828", "#e0803a", "#4caf50", "#9c27b0", "#00897b"];

  function option(spec) {
    var line = spec.kind === "line";
    return {
      color: COLOURS,
      tooltip: { trigger: "axis" },
      legend: { top: 0, textStyle: { fontSize: 11 } },
      grid: { left: 72, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "category", data: spec.labels || [], axisLabel: { interval: 0, fontSize: 11 } },
      yAxis: { type: "value" },
      series: (spec.series || []).map(function (s) {
        return {
          name: s.name,
          type: line ? "line" : "bar",
          barMaxWidth: 36,
          smooth: false,
          symbolSize: 7,
          data: (s.values || []).map(Number)
        };
      })
    };
  }

  function draw() {
    if (!window.echarts) {
      return;
    }
    var charts = [];
    document.querySelectorAll("[data-report-chart]").forEach(function (element) {
      var spec;
      try {
        spec = JSON.parse(element.getAttribute("data-report-chart"));
      } catch (error) {
        return;
      }
      var chart = echarts.init(element, null, { renderer: "canvas" });
      chart.setOption(option(spec));
      element.setAttribute("data-chart-ready", "true");
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
