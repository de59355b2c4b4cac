// A Copy button beside a link shown once (invite links, calendar feeds).
// Markup: <button type="button" data-copy="<input id>" hidden>Copy link</button>.
// Without this file the button stays hidden and the link can still be selected.
(function () {
  "use strict";

  function copied(button, text) {
    var label = button.textContent;
    button.textContent = text;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  function fallback(input) {
    input.focus();
    input.select();
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(
            function () { copied(button, "Copied"); },
            function () { copied(button, fallback(input) ? "Copied" : "Press Ctrl+C to copy"); });
        } else {
          copied(button, fallback(input) ? "Copied" : "Press Ctrl+C to copy");
        }
      });
    });
  });
})();
