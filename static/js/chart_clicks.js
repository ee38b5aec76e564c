// A click on a dashboard chart's point opens the traces behind it (insights.charts._click_to_traces puts what is
// needed in the figure's layout.meta: the trace list URL, the page's filters, the bucket's length). Runs after
// charts.js has drawn the figures of a swapped-in chart (both listen to htmx:load; this file is loaded second).
(function () {
  "use strict";

  // Plotly gives a date axis's value as "2026-05-01 09:00" (or "2026-05-01"): the figures' times are UTC.
  function utc(value) {
    var text = String(value).trim().replace(" ", "T");
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += "T00:00";
    if (!/(Z|[+-]\d{2}:?\d{2})$/.test(text)) text += "Z";
    var at = new Date(text);
    return isNaN(at.getTime()) ? null : at;
  }

  function iso(at) {
    return at.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  // The trace list behind a point: its time bucket (or the whole range, for a bar standing for a model or a
  // release), the page's filters, and the series' own dimension (a split line, the error bars).
  function tracesUrl(meta, point) {
    if (!point) return null;
    var params = new URLSearchParams();
    Object.keys(meta.query || {}).forEach(function (key) {
      params.set(key, meta.query[key]);
    });
    if (meta.axis === "x") {
      var start = utc(point.x);
      if (!start) return null;
      params.set("start_after", iso(start));
      params.set("start_before", iso(new Date(start.getTime() + meta.step * 1000)));
    } else {
      params.set("start_after", meta.start);
      params.set("start_before", meta.end);
      if (meta.dim && point.y !== undefined) params.set(meta.dim, String(point.y));
    }
    var own = point.data && point.data.meta;
    if (own && typeof own === "object") {
      Object.keys(own).forEach(function (key) {
        params.set(key, own[key]);
      });
    }
    return meta.traces_url + "?" + params.toString();
  }

  function wire(root) {
    var charts = Array.prototype.slice.call(root.querySelectorAll("[data-drawn]"));
    if (root.matches && root.matches("[data-drawn]")) charts.push(root);
    charts.forEach(function (el) {
      var meta = el.layout && el.layout.meta;
      if (!meta || !meta.traces_url || !el.on || el.hasAttribute("data-clickable")) return;
      el.setAttribute("data-clickable", "");
      el.on("plotly_click", function (data) {
        var url = tracesUrl(meta, data.points && data.points[0]);
        if (url) window.location.assign(url);
      });
    });
  }

  document.addEventListener("htmx:load", function (event) {
    wire(event.detail.elt);
  });
})();
