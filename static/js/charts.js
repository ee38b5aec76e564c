// Draws the dashboards' Plotly figures. Each chart partial carries its figure as JSON in a
// <script type="application/json"> (which never runs) beside a <div data-figure="ID">: no inline script, so the
// Content-Security-Policy allows scripts from static/ only. htmx fires htmx:load on every piece of content it
// swaps in (and on the page itself once loaded).
(function () {
  "use strict";

  // Dark or light (peekr.js): the figures come with plotly_white's colours; the page's own colours replace them so
  // text, grid and background read in both themes. Redrawn when the theme changes.
  // A custom property holds light-dark(...) as written: an element styled with it gives the resolved colour.
  function css(name) {
    var probe = document.createElement("span");
    probe.style.color = "var(" + name + ")";
    probe.hidden = true;
    document.body.appendChild(probe);
    var color = getComputedStyle(probe).color;
    document.body.removeChild(probe);
    return color;
  }

  function patched(layout, patch) {
    Object.keys(patch).forEach(function (path) {
      var keys = path.split(".");
      var at = layout;
      keys.slice(0, -1).forEach(function (key) {
        if (typeof at[key] !== "object" || at[key] === null) at[key] = {};
        at = at[key];
      });
      at[keys[keys.length - 1]] = patch[path];
    });
    return layout;
  }

  function themed(layout) {
    var text = css("--text") || "#1d2127";
    var grid = css("--border") || "#e2e5ea";
    var muted = css("--muted") || text;
    var patch = {
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      "font.color": text,
      "legend.font.color": text,
      "hoverlabel.bgcolor": css("--surface") || "#fff",
      "hoverlabel.font.color": text,
    };
    // The first axes take the template's colours unless named, so they always are.
    ["xaxis", "yaxis"].concat(Object.keys(layout || {})).forEach(function (key) {
      if (/^[xy]axis\d*$/.test(key)) {
        patch[key + ".gridcolor"] = grid;
        patch[key + ".linecolor"] = grid;
        patch[key + ".zerolinecolor"] = grid;
        patch[key + ".tickfont.color"] = muted;
      }
    });
    return patch;
  }

  document.addEventListener("peekr:theme", function () {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-drawn].js-plotly-plot").forEach(function (el) {
      window.Plotly.relayout(el, themed(el.layout));
    });
  });

  function draw(root) {
    var targets = Array.prototype.slice.call(root.querySelectorAll("[data-figure]"));
    if (root.matches && root.matches("[data-figure]")) targets.push(root);
    targets.forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-figure"));
      if (!source || !window.Plotly || el.hasAttribute("data-drawn")) return;
      var figure = JSON.parse(source.textContent);
      el.setAttribute("data-drawn", "");
      var layout = figure.layout || {};
      window.Plotly.newPlot(el, figure.data, patched(layout, themed(layout)), figure.config);
    });
  }

  document.addEventListener("htmx:load", function (event) {
    draw(event.detail.elt);
  });
})();
