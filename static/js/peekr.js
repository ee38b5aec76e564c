// Peekr's few behaviours htmx does not cover: copy buttons ([data-copy]), span-detail tabs, waterfall collapse,
// clickable table rows and confirm-before-submit. Everything is delegated from document, so content
// swapped in by htmx works without re-binding. Pages stay usable without this file.
(function () {
  "use strict";

  // --- Copy buttons: any element with data-copy. data-copy="#selector" copies that element's text (an input's
  // value); data-copy-text="..." copies the attribute's own value. "Copied" shows for 1.5 s. ---
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

  function copySource(button) {
    if (button.hasAttribute("data-copy-text")) return button.getAttribute("data-copy-text");
    var selector = button.getAttribute("data-copy");
    var source = selector && document.querySelector(selector);
    if (!source) return null;
    return "value" in source && /^(INPUT|TEXTAREA)$/.test(source.tagName) ? source.value : source.textContent;
  }

  function onCopy(button) {
    var text = copySource(button);
    if (text === null) return;
    copyText(text).then(function () {
      if (!button.hasAttribute("data-label")) button.setAttribute("data-label", button.textContent);
      button.textContent = "Copied";
      button.classList.add("done");
      clearTimeout(button._copyTimer);
      button._copyTimer = setTimeout(function () {
        button.textContent = button.getAttribute("data-label");
        button.classList.remove("done");
      }, 1500);
    });
  }

  // --- Span detail tabs: the last tab chosen stays open when another span is opened ---
  var lastTab = null;

  function showTab(detail, name) {
    // A tab this span lacks (Documents, then a span without documents): fall back to its first tab.
    if (!detail.querySelector('.tab[data-tab="' + name + '"]')) {
      var first = detail.querySelector(".tab");
      if (!first) return;
      name = first.getAttribute("data-tab");
    }
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
    var button = target.closest("[data-copy]");
    if (button) {
      event.preventDefault(); // a copy button inside a link or a clickable row copies, nothing more
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

// The layout's behaviours: the navigation menu at narrow widths, the dark/light toggle, tables that scroll inside
// their card, and the keyboard (see SHORTCUTS). Delegated from document like the above; pages work without it.
(function () {
  "use strict";

  var root = document.documentElement;
  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  // --- Dark or light: theme.js applied a stored choice before the first paint. The toggle flips what is shown;
  // a choice equal to the system's is forgotten, so the page follows the system again. ---
  function theme() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) return chosen;
    return dark && dark.matches ? "dark" : "light";
  }

  function themeChanged() {
    var button = document.querySelector(".theme-toggle");
    if (button) button.setAttribute("aria-pressed", theme() === "dark" ? "true" : "false");
    document.dispatchEvent(new CustomEvent("peekr:theme", { detail: { theme: theme() } }));
  }

  function themeToggle() {
    var next = theme() === "dark" ? "light" : "dark";
    var system = dark && dark.matches ? "dark" : "light";
    try {
      if (next === system) window.localStorage.removeItem("peekr.theme");
      else window.localStorage.setItem("peekr.theme", next);
    } catch (e) {
      // not stored: the choice lasts for this page
    }
    if (next === system) root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", next);
    themeChanged();
  }

  if (dark && dark.addEventListener) dark.addEventListener("change", themeChanged);

  // --- Navigation menu (below 1,100 px the sidebar folds into "Menu") ---
  function menu(open) {
    var nav = document.getElementById("main-nav");
    var button = document.querySelector(".nav-toggle");
    if (!nav || !button) return;
    nav.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  // --- Tables scroll sideways inside their own box, never the page ---
  function wrapTables(scope) {
    var tables = Array.prototype.slice.call(scope.querySelectorAll ? scope.querySelectorAll("table.grid") : []);
    if (scope.matches && scope.matches("table.grid")) tables.push(scope);
    tables.forEach(function (table) {
      var parent = table.parentElement;
      if (!parent || parent.classList.contains("table-scroll")) return;
      var box = document.createElement("div");
      box.className = "table-scroll";
      parent.insertBefore(box, table);
      box.appendChild(table);
    });
  }

  // --- Lists: j/k move a highlight, Enter opens. A list is [data-list], or any table.grid body or card list of
  // the page; its items are the rows that link somewhere. ---
  var LISTS = "[data-list], main table.grid > tbody, main .insight-list, main .alert-list, main .timeline";
  var TRACE_URL = /\/p\/\d+\/traces\/[^/?#]+$/;
  var STORE = "peekr.traceList";

  function opener(item) {
    if (item.hasAttribute("data-href")) return null;
    return item.querySelector("a[href]:not([href^='#'])");
  }

  function itemHref(item) {
    if (item.hasAttribute("data-href")) return item.getAttribute("data-href");
    var link = opener(item);
    return link ? link.getAttribute("href") : null;
  }

  function visible(el) {
    return !el.hidden && el.offsetParent !== null;
  }

  function listItems() {
    var lists = Array.prototype.slice.call(document.querySelectorAll(LISTS));
    for (var i = 0; i < lists.length; i++) {
      var items = Array.prototype.slice.call(lists[i].children).filter(function (el) {
        return visible(el) && !el.classList.contains("load-more") && itemHref(el) !== null;
      });
      if (items.length) return items;
    }
    return [];
  }

  function move(step) {
    var items = listItems();
    if (!items.length) return;
    var at = items.indexOf(document.querySelector(".kb-sel"));
    var next = at < 0 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, at + step));
    items.forEach(function (el) {
      el.classList.remove("kb-sel");
    });
    items[next].classList.add("kb-sel");
    items[next].scrollIntoView({ block: "nearest" });
  }

  function openSelected() {
    var item = document.querySelector(".kb-sel");
    if (!item) return false;
    var link = opener(item);
    if (link) link.click();
    else window.location.href = item.getAttribute("data-href");
    return true;
  }

  // The trace pages a list shows, in its order, remembered for [ and ] on the trace page.
  function rememberTraces() {
    if (TRACE_URL.test(window.location.pathname)) return;
    var urls = [];
    listItems().forEach(function (item) {
      var href = itemHref(item);
      var url = href && new URL(href, window.location.href);
      if (url && TRACE_URL.test(url.pathname) && urls.indexOf(url.pathname) < 0) urls.push(url.pathname);
    });
    if (!urls.length) return;
    try {
      window.sessionStorage.setItem(STORE, JSON.stringify({ from: window.location.pathname + window.location.search, urls: urls }));
    } catch (e) {
      // not remembered: [ and ] do nothing
    }
  }

  function walkTraces(step) {
    var saved;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(STORE) || "null");
    } catch (e) {
      saved = null;
    }
    if (!saved || !TRACE_URL.test(window.location.pathname)) return;
    var at = saved.urls.indexOf(window.location.pathname);
    var next = saved.urls[at + step];
    if (at >= 0 && next) window.location.href = next;
  }

  function focusSearch() {
    var box =
      document.querySelector("main input[name=q]") ||
      document.querySelector("main form.filters input:not([type=hidden]):not([type=checkbox]), main .filters input:not([type=hidden]):not([type=checkbox])") ||
      document.querySelector("main input[type=search], main form[method=get] input[type=text]");
    if (!box) return false;
    box.focus();
    if (box.select) box.select();
    return true;
  }

  var SHORTCUTS = [
    ["/", "Search (or the page's first filter)"],
    ["j / k", "Next / previous row of the list"],
    ["Enter", "Open the highlighted row"],
    ["[ / ]", "Previous / next trace of the list you came from"],
    ["\u2191 / \u2193", "Waterfall: previous / next span"],
    ["\u2190 / \u2192", "Waterfall: collapse / expand"],
    ["?", "This list of shortcuts"],
    ["Esc", "Close this list or the menu"],
  ];

  function overlay() {
    var dialog = document.getElementById("shortcuts-dialog");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "shortcuts-dialog";
      dialog.className = "shortcuts-dialog";
      dialog.setAttribute("aria-label", "Keyboard shortcuts");
      var title = document.createElement("h2");
      title.textContent = "Keyboard shortcuts";
      var list = document.createElement("dl");
      list.className = "shortcuts";
      SHORTCUTS.forEach(function (pair) {
        var dt = document.createElement("dt");
        var kbd = document.createElement("kbd");
        kbd.textContent = pair[0];
        dt.appendChild(kbd);
        var dd = document.createElement("dd");
        dd.textContent = pair[1];
        list.appendChild(dt);
        list.appendChild(dd);
      });
      var note = document.createElement("p");
      note.className = "small muted";
      note.textContent = "Keys do nothing while you type in a box. The review page has its own keys (shown there).";
      var close = document.createElement("button");
      close.type = "button";
      close.className = "btn small";
      close.textContent = "Close";
      close.addEventListener("click", function () {
        dialog.close();
      });
      dialog.appendChild(title);
      dialog.appendChild(list);
      dialog.appendChild(note);
      dialog.appendChild(close);
      dialog.addEventListener("click", function (event) {
        if (event.target === dialog) dialog.close(); // a click on the backdrop
      });
      document.body.appendChild(dialog);
    }
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  function typing(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    return /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var key = event.key;
    if (key === "Escape") {
      menu(false);
      return;
    }
    if (key === "?") {
      event.preventDefault();
      overlay();
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    if (key === "/") {
      if (focusSearch()) event.preventDefault();
      return;
    }
    if (key === "[" || key === "]") {
      walkTraces(key === "]" ? 1 : -1);
      return;
    }
    // The review page's own keys (static/js/review.js) own j, k and Enter there.
    if (document.getElementById("review")) return;
    if (key === "j" || key === "k") {
      event.preventDefault();
      move(key === "j" ? 1 : -1);
      return;
    }
    if (key === "Enter" && !/^(A|BUTTON|SUMMARY)$/.test(event.target.tagName)) {
      if (openSelected()) event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest(".theme-toggle")) {
      themeToggle();
      return;
    }
    if (target.closest(".keys-help")) {
      overlay();
      return;
    }
    if (target.closest(".nav-toggle")) {
      var nav = document.getElementById("main-nav");
      menu(!(nav && nav.classList.contains("open")));
      return;
    }
    if (!target.closest("#main-nav")) menu(false);
  });

  // --- Times in the viewer's zone: forms tell the server the browser's zone (a hidden tz field) and show their
  // UTC initial values as local ones; <time class="utc-stamp"> shows the local time, UTC on hover. ---
  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }
  function localValue(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes());
  }
  function localiseTimes(scope) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    scope.querySelectorAll("input[data-viewer-tz]").forEach(function (input) { input.value = zone; });
    scope.querySelectorAll("input[data-utc-initial]").forEach(function (input) {
      var date = input.value ? new Date(input.value + "Z") : null;
      if (date && !isNaN(date)) input.value = localValue(date);
      input.removeAttribute("data-utc-initial");
    });
    scope.querySelectorAll("time.utc-stamp:not([data-localised])").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      el.title = el.textContent.trim();
      el.textContent = localValue(date).replace("T", " ");
      el.setAttribute("data-localised", "");
    });
  }

  // htmx:load fires for the page once loaded and for every piece of content swapped in later ("load more").
  document.addEventListener("htmx:load", function (event) {
    wrapTables(event.detail.elt);
    localiseTimes(event.detail.elt);
    rememberTraces();
  });
  document.addEventListener("DOMContentLoaded", function () {
    wrapTables(document);
    localiseTimes(document);
    rememberTraces();
    themeChanged();
  });
})();
