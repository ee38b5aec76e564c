// Peekr's few behaviours htmx does not cover: copy buttons, span-detail tabs, waterfall collapse,
// clickable table rows and confirm-before-submit. Everything is delegated from document, so content
// swapped in by htmx works without re-binding. Pages stay usable without this file.
(function () {
  "use strict";

  // --- Copy buttons: <button class="copy" data-copy="#id"> ---
  function copyText(text) {
    // navigator.clipboard only exists on secure origins; a self-hosted http:// Peekr is not one.
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
    } finally {
      document.body.removeChild(area);
    }
    return Promise.resolve();
  }

  function onCopy(button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    copyText(source.textContent).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("done");
      setTimeout(function () {
        button.textContent = label;
        button.classList.remove("done");
      }, 1500);
    });
  }

  // --- Span detail tabs: the last tab chosen stays open when another span is opened ---
  var lastTab = null;

  function showTab(detail, name) {
    var found = false;
    detail.querySelectorAll(".tab").forEach(function (tab) {
      var on = tab.getAttribute("data-tab") === name;
      tab.classList.toggle("active", on);
      tab.setAttribute("aria-selected", on ? "true" : "false");
      found = found || on;
    });
    if (!found) return;
    detail.querySelectorAll(".pane").forEach(function (pane) {
      pane.classList.toggle("active", pane.getAttribute("data-pane") === name);
    });
  }

  // --- Waterfall: rows are flat (so they can be paged), a caret hides the rows deeper than its own ---
  function applyCollapse(container) {
    var hideBelow = Infinity;
    container.querySelectorAll(".wf-row").forEach(function (row) {
      var depth = +row.getAttribute("data-d");
      if (depth > hideBelow) {
        row.hidden = true;
        return;
      }
      row.hidden = false;
      hideBelow = row.classList.contains("collapsed") ? depth : Infinity;
    });
  }

  function selectRow(row) {
    document.querySelectorAll(".wf-row.sel").forEach(function (r) {
      r.classList.remove("sel");
    });
    row.classList.add("sel");
  }

  // Capture phase: the caret sits inside the row's link, and htmx listens on that link; stop the click
  // before it gets there so collapsing never opens the span.
  document.addEventListener(
    "click",
    function (event) {
      var caret = event.target.closest(".wf-row .caret");
      if (!caret) return;
      event.preventDefault();
      event.stopPropagation();
      var row = caret.closest(".wf-row");
      row.classList.toggle("collapsed");
      caret.setAttribute("title", row.classList.contains("collapsed") ? "Expand" : "Collapse");
      applyCollapse(row.parentElement);
    },
    true
  );

  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target.closest("button.copy[data-copy]");
    if (button) {
      onCopy(button);
      return;
    }
    var tab = target.closest(".tabbar .tab");
    if (tab) {
      lastTab = tab.getAttribute("data-tab");
      showTab(tab.closest(".span-detail"), lastTab);
      return;
    }
    var row = target.closest(".wf-row");
    if (row && !event.metaKey && !event.ctrlKey && !event.shiftKey) {
      selectRow(row);
      return;
    }
    // Whole table rows open their page, but links, selections and modified clicks behave as usual.
    var tr = target.closest("tr[data-href]");
    if (tr && !target.closest("a, button, input, select, label") && !event.metaKey && !event.ctrlKey) {
      if (window.getSelection && String(window.getSelection())) return;
      window.location.href = tr.getAttribute("data-href");
    }
  });

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target.id === "span-panel") {
      var detail = target.querySelector(".span-detail");
      if (detail && lastTab) showTab(detail, lastTab);
      var id = detail && detail.getAttribute("data-span");
      var row = id && document.querySelector('.wf-row[href="?span=' + id + '"]');
      if (row) selectRow(row);
    }
    // Rows appended by "show next": keep the subtrees that are collapsed hidden.
    var rows = document.getElementById("wf-rows");
    if (rows && rows.querySelector(".wf-row.collapsed")) applyCollapse(rows);
  });
})();
