// The trace page's waterfall as a virtualised list: every row is data (#wf-data, from traces.waterfall.rows_data),
// only the rows in view (and a few around them) are in the DOM, so a 5,000-span trace loads and scrolls like a
// 50-span one. Collapse works on the whole tree; keys when the waterfall has focus: up/down move the selection,
// left collapses (or goes to the parent), right expands (or goes to the first child), enter opens the span panel.
// Without this file the server's rows (first 500, "show next") still work.
(function () {
  "use strict";

  var OVERSCAN = 12; // rows drawn above and below the viewport

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }

  function init() {
    var dataEl = document.getElementById("wf-data");
    var box = document.getElementById("wf-rows");
    if (!dataEl || !box || box.getAttribute("data-virtual")) return;
    var data = JSON.parse(dataEl.textContent);
    var rows = data.rows;
    var badges = data.badges || {};
    var n = rows.length;
    var spanBase = box.getAttribute("data-span-base");
    var first = box.querySelector(".wf-row");
    var rowHeight = (first && first.getBoundingClientRect().height) || 29;

    // Row i's subtree ends before end[i]: rows are depth-first, so it is the next row no deeper than i.
    var end = new Int32Array(n);
    var stack = [];
    var index = {};
    for (var i = 0; i < n; i++) {
      var depth = rows[i][1];
      while (stack.length && rows[stack[stack.length - 1]][1] >= depth) end[stack.pop()] = i;
      stack.push(i);
      index[rows[i][0]] = i;
    }
    while (stack.length) end[stack.pop()] = n;

    var collapsed = new Uint8Array(n);
    var visible = []; // row indexes shown, in order
    var position = new Int32Array(n); // row index -> its place in `visible` (-1: inside a collapsed subtree)
    var selected = index[box.getAttribute("data-selected")];
    if (selected === undefined) selected = n ? 0 : -1;
    var drawn = [-1, -1];

    function rebuild() {
      visible = [];
      position.fill(-1);
      for (var i = 0; i < n; ) {
        position[i] = visible.length;
        visible.push(i);
        i = collapsed[i] ? end[i] : i + 1;
      }
      box.style.height = visible.length * rowHeight + "px";
      drawn = [-1, -1];
    }

    function rowHtml(i) {
      var r = rows[i]; // [id, depth, left, width, kind, name, error, children, open, label]
      var id = r[0], left = r[2], width = r[3], right = left + width;
      var marks = badges[id] || [];
      var cls = "wf-row k-" + escapeHtml(r[4]) + (r[6] ? " err" : "") + (i === selected ? " sel" : "");
      cls += collapsed[i] ? " collapsed" : "";
      var markHtml = "";
      for (var m = 0; m < marks.length; m++) {
        if (marks[m][3]) cls += " " + escapeHtml(marks[m][3]);
        markHtml += '<span class="' + escapeHtml(marks[m][0]) + '" title="' + escapeHtml(marks[m][2]) + '">' +
          escapeHtml(marks[m][1]) + "</span>";
      }
      var caret = r[7]
        ? '<span class="caret" role="button" aria-label="' + (collapsed[i] ? "Expand " : "Collapse ") + r[7] +
          ' children" title="' + (collapsed[i] ? "Expand" : "Collapse") + '"></span>'
        : '<span class="caret-pad"></span>';
      var at, place; // where the label fits, as traces.waterfall.Row.label_at
      if (right <= 62) {
        at = "after";
        place = "left:calc(" + right + "% + 6px);max-width:calc(" + (100 - right) + "% - 8px)";
      } else if (left >= 38) {
        at = "before";
        place = "right:calc(" + (100 - left) + "% + 6px);max-width:calc(" + left + "% - 8px)";
      } else {
        at = "inside";
        place = "left:calc(" + left + "% + 4px);max-width:calc(" + width + "% - 8px)";
      }
      return '<a class="' + cls + '" href="?span=' + id + '" data-i="' + i + '" data-d="' + r[1] +
        '" style="--d:' + r[1] + '"><span class="wf-label">' + caret + '<span class="kind">' + escapeHtml(r[4]) +
        '</span><span class="wf-name">' + (r[6] ? '<span class="err-icon" aria-label="error">!</span>' : "") +
        escapeHtml(r[5]) + "</span>" + markHtml + '</span><span class="wf-track"><span class="wf-bar' +
        (r[8] ? " open" : "") + '" style="left:' + left + "%;width:" + width + '%"></span><span class="wf-meta ' +
        at + '" style="' + place + '">' + escapeHtml(r[9]) + "</span></span></a>";
    }

    var frame = box.firstElementChild; // replaced below by the window of drawn rows
    function draw(force) {
      var top = box.getBoundingClientRect().top;
      var from = Math.max(0, Math.floor(-top / rowHeight) - OVERSCAN);
      var to = Math.min(visible.length, Math.ceil((window.innerHeight - top) / rowHeight) + OVERSCAN);
      if (to < from) to = from;
      if (!force && from === drawn[0] && to === drawn[1]) return;
      drawn = [from, to];
      var html = "";
      for (var p = from; p < to; p++) html += rowHtml(visible[p]);
      frame.style.transform = "translateY(" + from * rowHeight + "px)";
      frame.innerHTML = html;
    }

    var pending = false;
    function schedule() {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        draw(false);
      });
    }

    function toggle(i, collapse) {
      if (!rows[i][7] || !!collapsed[i] === collapse) return;
      collapsed[i] = collapse ? 1 : 0;
      if (collapse && selected > i && selected < end[i]) selected = i;
      rebuild();
      draw(true);
    }

    function reveal(i) {
      // Expand the collapsed rows above i, then scroll it into view.
      for (var a = 0; a < i; a++) if (collapsed[a] && i < end[a]) collapsed[a] = 0;
      rebuild();
      var top = box.getBoundingClientRect().top + position[i] * rowHeight;
      if (top < 40) window.scrollBy(0, top - 40);
      else if (top + rowHeight > window.innerHeight) window.scrollBy(0, top + rowHeight - window.innerHeight + 8);
      draw(true);
    }

    function select(i) {
      if (i < 0 || i >= n) return;
      selected = i;
      reveal(i);
    }

    function open(i) {
      if (i < 0) return;
      select(i);
      if (window.htmx) {
        window.htmx.ajax("GET", spanBase + rows[i][0], { target: "#span-panel", swap: "innerHTML show:none" });
      } else {
        window.location.href = "?span=" + rows[i][0];
      }
    }

    // The window of drawn rows replaces the server's rows (and its "show next" button).
    box.setAttribute("data-virtual", "1");
    box.setAttribute("tabindex", "0");
    box.setAttribute("aria-label", "Spans: arrow keys move, left and right fold, enter opens");
    box.style.position = "relative";
    box.style.outlineOffset = "-2px";
    frame = document.createElement("div");
    frame.className = "wf-window";
    frame.style.position = "absolute";
    frame.style.left = "0";
    frame.style.right = "0";
    frame.style.top = "0";
    frame.style.contain = "layout style"; // redrawing the window never lays out the rest of the page
    box.replaceChildren(frame);
    rebuild();
    draw(true);
    if (selected > 0) reveal(selected);

    window.addEventListener("scroll", schedule, { passive: true });
    window.addEventListener("resize", schedule);

    // Capture on window: before peekr.js's document-level handler, which folds server-drawn rows only.
    window.addEventListener(
      "click",
      function (event) {
        var caret = event.target.closest && event.target.closest(".caret");
        var row = caret && caret.closest(".wf-row");
        if (!row || !box.contains(row)) return;
        event.preventDefault();
        event.stopPropagation();
        var i = +row.getAttribute("data-i");
        toggle(i, !collapsed[i]);
      },
      true
    );

    box.addEventListener("click", function (event) {
      var row = event.target.closest(".wf-row");
      if (!row || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      box.focus({ preventScroll: true });
      open(+row.getAttribute("data-i"));
    });

    box.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey || selected < 0) return;
      var at = position[selected] >= 0 ? position[selected] : 0;
      var key = event.key;
      if (key === "ArrowDown" || key === "ArrowUp") {
        var next = visible[Math.min(Math.max(at + (key === "ArrowDown" ? 1 : -1), 0), visible.length - 1)];
        select(next);
      } else if (key === "ArrowLeft") {
        if (rows[selected][7] && !collapsed[selected]) toggle(selected, true);
        else {
          for (var p = selected - 1; p >= 0; p--) {
            if (rows[p][1] < rows[selected][1]) {
              select(p);
              break;
            }
          }
        }
      } else if (key === "ArrowRight") {
        if (collapsed[selected]) toggle(selected, false);
        else if (rows[selected][7]) select(selected + 1);
      } else if (key === "Enter") {
        open(selected);
      } else if (key === "Home" || key === "End") {
        select(visible[key === "Home" ? 0 : visible.length - 1]);
      } else {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
    });

    // A span opened elsewhere (the panel's links, back/forward): select its row.
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target.id !== "span-panel") return;
      var shown = event.detail.target.querySelector("[data-span]");
      var i = shown ? index[shown.getAttribute("data-span")] : undefined;
      if (i !== undefined && i !== selected) select(i);
      else draw(true);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  // Back/forward through htmx's history: the page comes back as a snapshot of its HTML; draw it again.
  document.addEventListener("htmx:historyRestore", function () {
    var box = document.getElementById("wf-rows");
    if (box) box.removeAttribute("data-virtual");
    init();
  });
})();
