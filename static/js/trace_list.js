// The trace list (templates/traces/trace_list.html): times in the viewer's time zone (UTC stays in the title),
// the custom range edited in local time and sent as UTC, and no empty field in the URL.
(function () {
  "use strict";

  function pad(n) { return String(n).padStart(2, "0"); }

  function localInputValue(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  var timeFormat = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function localiseTimes(root) {
    root.querySelectorAll("time.local-time[datetime]").forEach(function (el) {
      if (el.dataset.localised) return;
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      el.dataset.relative = el.textContent.trim();
      el.textContent = timeFormat.format(date);
      el.dataset.localised = "1";
    });
  }

  function bindRange(form) {
    form.querySelectorAll("input[data-utc-for]").forEach(function (input) {
      var hidden = document.getElementById(input.dataset.utcFor);
      if (!hidden) return;
      if (hidden.value) {
        var date = new Date(hidden.value.replace(" ", "T"));
        if (!isNaN(date)) input.value = localInputValue(date);
      }
      input.addEventListener("change", function () {
        var date = input.value ? new Date(input.value) : null;  // datetime-local: the viewer's time zone
        hidden.value = date && !isNaN(date) ? date.toISOString() : "";
        form.requestSubmit();
      });
    });
  }

  function afterSwap() {
    var results = document.getElementById("results");
    if (!results) return;
    localiseTimes(results);
    var saved = document.getElementById("saved-view-query");
    if (saved && results.dataset.savedQuery !== undefined) saved.value = results.dataset.savedQuery;
    var form = document.getElementById("trace-filters");
    var sort = form && form.querySelector("input[name=sort]");
    if (sort && results.dataset.sort !== undefined) sort.value = results.dataset.sort === "-start" ? "" : results.dataset.sort;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("trace-filters");
    if (form) bindRange(form);
    afterSwap();
    if (form) {
      // A plain submit (htmx not loaded): leave empty fields out of the URL.
      form.addEventListener("submit", function () {
        form.querySelectorAll("input[name], select[name]").forEach(function (el) {
          if (el.value === "") el.disabled = true;
        });
        setTimeout(function () {
          form.querySelectorAll("[disabled]").forEach(function (el) { el.disabled = false; });
        }, 0);
      });
    }
  });

  // htmx: drop empty parameters from the request (the server pushes the cleaned URL as well).
  document.addEventListener("htmx:configRequest", function (evt) {
    if (!evt.detail.elt || evt.detail.elt.id !== "trace-filters") return;
    var params = evt.detail.formData || evt.detail.parameters;
    if (params && typeof params.forEach === "function" && typeof params.delete === "function") {
      var empty = [];
      params.forEach(function (value, key) { if (value === "") empty.push(key); });
      empty.forEach(function (key) { params.delete(key); });
    }
  });
  document.addEventListener("htmx:afterSettle", afterSwap);
})();
