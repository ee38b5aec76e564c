// Draws the dashboards' Plotly figures. Each chart partial carries its figure as JSON in a
// <script type="application/json"> (which never runs) beside a <div data-figure="ID">: no inline script, so the
// Content-Security-Policy allows scripts from static/ only. htmx fires htmx:load on every piece of content it
// swaps in (and on the page itself once loaded).
(function () {
  "use strict";

  function draw(root) {
    var targets = Array.prototype.slice.call(root.querySelectorAll("[data-figure]"));
    if (root.matches && root.matches("[data-figure]")) targets.push(root);
    targets.forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-figure"));
      if (!source || !window.Plotly || el.hasAttribute("data-drawn")) return;
      var figure = JSON.parse(source.textContent);
      el.setAttribute("data-drawn", "");
      window.Plotly.newPlot(el, figure.data, figure.layout, figure.config);
    });
  }

  document.addEventListener("htmx:load", function (event) {
    draw(event.detail.elt);
  });
})();
