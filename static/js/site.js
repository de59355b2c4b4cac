// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // Preselect the browser's timezone on a fresh sign-up form.
  function detectTimezone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    document.querySelectorAll("select[data-detect-timezone]").forEach(function (select) {
      if (zone && select.querySelector('option[value="' + CSS.escape(zone) + '"]')) {
        select.value = zone;
      }
    });
  }

  // Ask before destructive actions: forms (or their buttons) marked data-confirm="Question?".
  function confirmDestructive() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      // A form with two buttons (remove or ban) asks each its own question.
      var submitter = event.submitter;
      var question = (submitter && submitter.getAttribute("data-confirm")) ||
        (form.getAttribute && form.getAttribute("data-confirm"));
      if (question && !window.confirm(question)) {
        event.preventDefault();
      }
    });
  }

  // Select a freshly made invite link when it gets focus, ready to copy.
  function selectOnFocus() {
    document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
  }

  // Notification settings: "Customise" opens the grid, and a choice in the grid
  // makes it the person's own choice rather than a preset.
  function customiseGrid() {
    var grid = document.querySelector("[data-customise-grid]");
    var custom = document.querySelector("input[data-customise]");
    if (!grid || !custom) { return; }
    grid.addEventListener("toggle", function () {
      if (grid.open) { custom.checked = true; }
    });
    grid.addEventListener("change", function () { custom.checked = true; });
    custom.addEventListener("change", function () { grid.open = true; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    detectTimezone();
    confirmDestructive();
    selectOnFocus();
    customiseGrid();
  });
})();
