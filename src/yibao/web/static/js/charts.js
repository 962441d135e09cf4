// The ECharts of the report, inspection and questionnaire pages (no inline script under the
// CSP). A page (or an HTMX fragment) holds <div hidden data-chart="KIND" data-chart-data='…'
// data-chart-labels='…'>; this file draws every such holder once, on load and after each
// HTMX swap. ECharts styles its own elements through the CSSOM, which the CSP allows.
(function () {
  "use strict";
  var charts = [];

  function init(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    var chart = window.echarts.init(el);
    charts.push(chart);
    return chart;
  }

  var draw = {
    "inspection-history": function (data, labels) {
      var chart = init("chart-scores");
      if (!chart) { return; }
      chart.setOption({
        animation: false,
        color: ["#1f6feb"],
        grid: { left: 8, right: 12, top: 12, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: data.dates, axisLabel: { hideOverlap: true } },
        yAxis: { type: "value", min: 0, max: 100 },
        series: [{ name: labels.score, type: "line", data: data.scores, symbolSize: 8,
                   markLine: { silent: true, symbol: "none", lineStyle: { color: "#2f8132", type: "dashed" },
                               data: [{ yAxis: 90 }] } }]
      });
    },

    "dashboard": function (data, names) {
      var days = data.days.map(function (d) { return d.slice(5); });
      function one(id, key, color, type) {
        var chart = init(id);
        if (!chart) { return; }
        chart.setOption({
          animation: false,
          color: [color],
          grid: { left: 8, right: 12, top: 12, bottom: 8, containLabel: true },
          tooltip: { trigger: "axis" },
          xAxis: { type: "category", data: days, axisLabel: { hideOverlap: true } },
          yAxis: { type: "value", minInterval: 1 },
          series: [{ name: names[key], type: type, data: data[key], smooth: false,
                     areaStyle: type === "line" ? { opacity: 0.15 } : undefined }]
        });
      }
      one("chart-intake", "intake", "#1f6feb", "bar");
      one("chart-completed", "completed", "#2f8132", "bar");
      one("chart-overdue", "overdue", "#c53030", "line");
    },

    "overview-trips": function (trips, label) {
      var a = init("chart-trips");
      if (a) {
        a.setOption({
          animation: false, tooltip: { trigger: "axis" }, legend: { top: 0 },
          grid: { left: 8, right: 12, top: 32, bottom: 8, containLabel: true },
          xAxis: { type: "category", data: trips.months },
          yAxis: [{ type: "value", minInterval: 1 }, { type: "value" }],
          series: [{ name: label.trips, type: "bar", data: trips.trips, itemStyle: { color: "#2f8132" } },
                   { name: label.hours, type: "line", yAxisIndex: 1, data: trips.hours, itemStyle: { color: "#1f6feb" } }]
        });
      }
      var b = init("chart-town-km");
      if (b) {
        b.setOption({
          animation: false, tooltip: { trigger: "axis" },
          grid: { left: 8, right: 12, top: 16, bottom: 8, containLabel: true },
          xAxis: { type: "category", data: trips.towns, axisLabel: { rotate: trips.towns.length > 6 ? 45 : 0, interval: 0, fontSize: 11 } },
          yAxis: { type: "value" },
          series: [{ name: label.km, type: "bar", data: trips.town_km, itemStyle: { color: "#7a4fb3" } }]
        });
      }
    },

    "overview-stations": function (data, names) {
      var colors = { green: "#2f8132", yellow: "#a86400", red: "#c53030" };
      function one(key, color, opts) {
        opts = opts || {};
        var chart = init("chart-" + key);
        if (!chart) { return; }
        chart.setOption({
          animation: false,
          grid: { left: 8, right: 12, top: 16, bottom: 8, containLabel: true },
          tooltip: {
            trigger: "axis",
            formatter: function (items) {
              var it = items[0];
              var v = it.value === null || it.value === undefined ? "—" : it.value + (opts.unit || "");
              return it.name + " " + data.names[it.dataIndex] + "<br>" + names[key] + ": " + v;
            }
          },
          xAxis: { type: "category", data: data.codes, axisLabel: { rotate: data.codes.length > 8 ? 60 : 0, interval: 0, fontSize: 11 } },
          yAxis: { type: "value", minInterval: 1, max: opts.max, axisLabel: { formatter: "{value}" + (opts.unit || "") } },
          series: [{ name: names[key], type: "bar", data: data[key],
                     itemStyle: { color: opts.lights ? function (p) { return colors[opts.lights[p.dataIndex]] || color; } : color } }]
        });
      }
      one("intake", "#1f6feb");
      one("open", "#5b6670");
      one("overdue", "#c53030", { lights: data.overdue_light });
      one("on_time_rate", "#2f8132", { unit: "%", max: 100, lights: data.rate_light });
      one("median_days", "#7a4fb3");
    },

    "questionnaire-results": function (data, labels) {
      data.forEach(function (q) {
        var chart = init("chart-" + q.id);
        if (!chart) { return; }
        var scale = q.type === "scale";
        chart.setOption({
          animation: false,
          tooltip: { trigger: "axis" },
          grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
          xAxis: scale ? { type: "category", data: q.labels } : { type: "value", minInterval: 1 },
          yAxis: scale ? { type: "value", minInterval: 1 } : { type: "category", data: q.labels.slice().reverse(), axisLabel: { width: 180, overflow: "truncate" } },
          series: [{ name: labels.count, type: "bar", data: scale ? q.counts : q.counts.slice().reverse(),
                     label: { show: true, position: scale ? "top" : "right" },
                     itemStyle: { color: scale ? "#2f8132" : "#1f6feb" } }]
        });
      });
    }
  };

  function drawIn(root) {
    if (!window.echarts || !root || !root.querySelectorAll) { return; }
    var holders = root.matches && root.matches("[data-chart]") ? [root] : [];
    holders = holders.concat(Array.prototype.slice.call(root.querySelectorAll("[data-chart]")));
    holders.forEach(function (holder) {
      var kind = holder.getAttribute("data-chart");
      if (holder.getAttribute("data-drawn") || !draw[kind]) { return; }
      holder.setAttribute("data-drawn", "1");
      draw[kind](JSON.parse(holder.getAttribute("data-chart-data") || "null"),
                 JSON.parse(holder.getAttribute("data-chart-labels") || "{}"));
    });
  }

  function start() {
    drawIn(document);
    // Fragments swapped in later by HTMX (the overview's tabs) bring their own holders.
    document.body.addEventListener("htmx:afterSettle", function (event) {
      drawIn(event.detail && event.detail.elt ? event.detail.elt : document);
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
