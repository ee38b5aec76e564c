// Dark or light before the first paint (loaded without defer in <head>): a stored choice wins, else the
// system's prefers-color-scheme applies through CSS alone. The toggle lives in peekr.js.
(function () {
  "use strict";
  try {
    var theme = window.localStorage.getItem("peekr.theme");
    if (theme === "dark" || theme === "light") document.documentElement.setAttribute("data-theme", theme);
  } catch (e) {
    // Storage refused (a private window's policy): follow the system.
  }
})();
