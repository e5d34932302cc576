/* yecai console: htmx set-up (CSRF header, messages on 4xx), ECharts charts, small form helpers.
   Loaded from our own origin only (the CSP allows no inline script); no eval, no inline handlers. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  if (window.htmx) {
    htmx.config.allowEval = false; // hx-on / js: expressions stay off under the strict CSP
    htmx.config.allowScriptTags = false;
    htmx.config.selfRequestsOnly = true;
    // Our 4xx answers are messages meant for the person (refused, conflict, not found): show them.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "4..", swap: true, error: false },
      { code: "...", swap: true, error: true }
    ];
  }

  // Every htmx request carries the session's CSRF token (the server refuses changes without it).
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) {
      event.detail.headers["X-CSRF-Token"] = token;
    }
  });

  // --- charts ----------------------------------------------------------------------------------

  function chartOption(spec) {
    var items = spec.items || [];
    if (spec.kind === "pie") {
      return {
        tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
        legend: { orient: "vertical", right: 0, top: "middle", textStyle: { fontSize: 12 } },
        series: [{
          type: "pie",
          radius: ["42%", "70%"],
          center: ["38%", "50%"],
          avoidLabelOverlap: true,
          label: { show: false },
          data: items.map(function (item) {
            return { name: item.name, value: item.value, link: item.link, itemStyle: item.colour ? { color: item.colour } : undefined };
          })
        }]
      };
    }
    return {
      tooltip: { trigger: "axis" },
      grid: { left: 40, right: 16, top: 16, bottom: 28 },
      xAxis: { type: "category", data: items.map(function (item) { return item.name; }), axisLabel: { interval: 0, fontSize: 11 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{
        type: "bar",
        barMaxWidth: 48,
        data: items.map(function (item) {
          return { value: item.value, link: item.link, itemStyle: item.colour ? { color: item.colour } : undefined };
        }),
        label: { show: true, position: "top" }
      }]
    };
  }

  function drawCharts() {
    if (!window.echarts) {
      return;
    }
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var spec;
      try {
        spec = JSON.parse(element.getAttribute("data-chart"));
      } catch (error) {
        return;
      }
      var chart = echarts.init(element, null, { renderer: "canvas" });
      chart.setOption(chartOption(spec));
      chart.on("click", function (params) {
        if (params.data && params.data.link) {
          window.location.href = params.data.link;
        }
      });
      element.setAttribute("data-chart-ready", "true");
      charts.push(chart);
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  }

  // --- mapping editor ----------------------------------------------------------------------------

  function showFieldsFor(form) {
    var select = form.querySelector("[data-mapping-table]");
    if (!select) {
      return;
    }
    form.querySelectorAll("[data-for-tables]").forEach(function (label) {
      var tables = label.getAttribute("data-for-tables").split(" ");
      label.hidden = tables.indexOf(select.value) < 0;
    });
  }

  function fillMappingForm(values) {
    var form = document.getElementById("mapping-form");
    if (!form) {
      return;
    }
    ["table", "key", "number", "org", "department", "cost_centre", "accounting_standard", "debit", "credit"].forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field) {
        field.value = values[name] === undefined || values[name] === null ? "" : String(values[name]);
      }
    });
    showFieldsFor(form);
    form.scrollIntoView({ behavior: "smooth", block: "center" });
    var focus = form.elements.namedItem(values.table === "cost_accounts" ? "debit" : "number");
    if (focus && focus.focus) {
      focus.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) {
      return;
    }
    var filler = target.closest("[data-fill-mapping]");
    if (filler) {
      event.preventDefault();
      try {
        fillMappingForm(JSON.parse(filler.getAttribute("data-fill-mapping")));
      } catch (error) { /* malformed data: leave the form as it is */ }
      return;
    }
    var confirming = target.closest("[data-confirm]");
    if (confirming && !window.confirm(confirming.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-mapping-table]")) {
      showFieldsFor(target.form);
    }
    if (target.matches && target.matches("[data-select-all]")) {
      var name = target.getAttribute("data-select-all");
      target.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
        box.checked = target.checked;
      });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    var form = document.getElementById("mapping-form");
    if (form) {
      showFieldsFor(form);
    }
  });
})();
