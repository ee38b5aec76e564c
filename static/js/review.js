// The review page's keyboard: a reviewer works through a queue without the mouse.
//   1-9        toggle the failure label with that number
//   e          focus the expected output        c  focus the comment
//   p          toggle "promote to golden set"
//   y / n      answer a yes/no score: the first one not answered yet (the first one when all are)
//   j / k      next / previous item in the queue
//   Enter      complete and go to the next item (Ctrl+Enter inside a text box)
//   Esc        leave a text box, so the single keys work again
// Bound once on document: htmx swaps in the next item's #review and the same listener serves it.
// Without this file the form still works with the mouse (its buttons submit normally).
(function () {
  "use strict";

  function review() {
    return document.getElementById("review");
  }

  function typing(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    var type = (el.getAttribute("type") || "text").toLowerCase();
    return ["checkbox", "radio", "button", "submit", "reset"].indexOf(type) === -1;
  }

  function go(link) {
    if (!link) return;
    if (window.htmx && link.getAttribute("hx-get")) {
      link.click(); // htmx handles the click: swaps #review and pushes the URL
    } else {
      window.location.href = link.getAttribute("href");
    }
  }

  function submit(form) {
    if (!form || form.dataset.sending) return;
    form.dataset.sending = "1";
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  function flash(el) {
    if (!el) return;
    el.classList.remove("key-flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("key-flash");
  }

  document.addEventListener("keydown", function (event) {
    var root = review();
    if (!root) return;
    var form = root.querySelector("form.review-form");
    var active = document.activeElement;

    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      if (form && (!active || form.contains(active) || active === document.body)) {
        event.preventDefault();
        submit(form);
      }
      return;
    }
    if (event.key === "Escape" && typing(active)) {
      active.blur();
      event.preventDefault();
      return;
    }
    if (typing(active) || event.altKey || event.ctrlKey || event.metaKey) return;

    var key = event.key;
    if (key >= "1" && key <= "9") {
      var box = form && form.querySelector('input[name=labels][data-key="' + key + '"]');
      if (box) {
        event.preventDefault();
        box.checked = !box.checked;
        flash(box.closest("label"));
      }
      return;
    }
    switch (key) {
      case "e":
      case "c": {
        var field = form && form.querySelector(key === "e" ? "textarea[name=expected_output]" : "textarea[name=comment]");
        if (field) {
          event.preventDefault(); // the key must not land in the box it opens
          field.focus();
        }
        return;
      }
      case "y":
      case "n": {
        var scores = form ? Array.prototype.slice.call(form.querySelectorAll(".score-config[data-type=boolean]")) : [];
        var open = scores.filter(function (s) {
          return !s.querySelector("input[type=radio]:checked");
        });
        var target = open[0] || scores[0];
        var radio = target && target.querySelector('input[type=radio][value="' + (key === "y" ? "yes" : "no") + '"]');
        if (radio) {
          event.preventDefault();
          radio.checked = true;
          flash(radio.closest("label"));
        }
        return;
      }
      case "p": {
        var promote = form && form.querySelector("input[name=promote]");
        if (promote) {
          event.preventDefault();
          promote.checked = !promote.checked;
          flash(promote.closest("label"));
        }
        return;
      }
      case "j":
        event.preventDefault();
        go(root.querySelector("a[data-nav=next]"));
        return;
      case "k":
        event.preventDefault();
        go(root.querySelector("a[data-nav=prev]"));
        return;
      case "Enter":
        // A focused link or button does its own thing; anywhere else Enter completes the item.
        if (active && active !== document.body && /^(A|BUTTON|SUMMARY)$/.test(active.tagName)) return;
        if (form) {
          event.preventDefault();
          submit(form);
        }
        return;
    }
  });

  // After htmx swaps in the next item, nothing inside the old form keeps the focus: start from the page.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "review") {
      if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
      window.scrollTo(0, 0);
    }
  });
  // A failed request (a server error) must not leave the form locked.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form && form.classList && form.classList.contains("review-form")) delete form.dataset.sending;
  });
})();
