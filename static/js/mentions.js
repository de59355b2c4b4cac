// @mentions in every composer (the thread forms and the chat box): a textarea
// with data-mentions="<suggestions url>" gets
// - suggestions as you type @ and part of a name or handle: a listbox under
//   the box (aria-activedescendant keeps focus in the textarea); Up/Down move,
//   Enter or Tab picks the highlighted name, Escape closes; a click picks too;
// - a warning, before posting, when an @handle names no member of the circle
//   (it will stay plain text, and no one is told).
// The box is placed after the element data-mentions-after points to, if any.
// Everything here is an enhancement: without it @handles still work as typed.
(function () {
  "use strict";

  // As community/content.py's MENTION: not after a letter, digit, _, @ or "."
  var MENTION = /(^|[^\p{L}\p{N}_@.])@([A-Za-z0-9_]{2,40})(?![\p{L}\p{N}_])/gu;
  // The @word being typed, just before the caret.
  var TYPING = /(^|[^\p{L}\p{N}_@.])@([A-Za-z0-9_]{1,40})$/u;
  var count = 0;

  function attach(box) {
    if (!box || box.hasAttribute("data-mentions-ready")) { return; }
    box.setAttribute("data-mentions-ready", "");
    var url = box.getAttribute("data-mentions");
    var id = "mentions-" + (++count);

    var list = document.createElement("ul");
    list.id = id + "-list";
    list.className = "mention-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "People to mention");
    list.hidden = true;
    var warning = document.createElement("p");
    warning.id = id + "-warning";
    warning.className = "mention-warning";
    warning.setAttribute("aria-live", "polite");
    warning.hidden = true;
    var after = (box.getAttribute("data-mentions-after") && box.closest(box.getAttribute("data-mentions-after"))) || box;
    after.insertAdjacentElement("afterend", list);
    list.insertAdjacentElement("afterend", warning);
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-controls", list.id);
    var described = box.getAttribute("aria-describedby");
    box.setAttribute("aria-describedby", (described ? described + " " : "") + warning.id);

    var people = [];
    var active = -1;
    var asked = 0;          // the latest suggestions request; older answers are dropped
    var suggestTimer = null;
    var checkTimer = null;
    var known = new Map();  // handle -> whether it names a member

    // --- Suggestions -------------------------------------------------------------------
    function typing() {
      var match = TYPING.exec(box.value.slice(0, box.selectionStart));
      return match && box.selectionStart === box.selectionEnd ? match[2] : null;
    }

    function close() {
      var wasOpen = !list.hidden;
      list.hidden = true;
      list.textContent = "";
      people = [];
      active = -1;
      box.removeAttribute("aria-activedescendant");
      if (wasOpen) { warn(); }
    }

    function highlight(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (item, i) {
        item.setAttribute("aria-selected", i === index ? "true" : "false");
        item.classList.toggle("is-active", i === index);
      });
      var item = list.children[index];
      if (item) {
        box.setAttribute("aria-activedescendant", item.id);
        item.scrollIntoView({block: "nearest"});
      }
    }

    function show(found) {
      list.textContent = "";
      people = found;
      if (!found.length) { close(); return; }
      found.forEach(function (person, i) {
        var item = document.createElement("li");
        item.id = id + "-option-" + i;
        item.setAttribute("role", "option");
        var name = document.createElement("span");
        name.className = "mention-list__name";
        name.textContent = person.name;
        var handle = document.createElement("span");
        handle.className = "mention-list__handle";
        handle.textContent = " @" + person.handle;
        item.appendChild(name);
        item.appendChild(handle);
        // mousedown, not click: the textarea keeps the focus and the caret.
        item.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
        list.appendChild(item);
      });
      list.hidden = false;
      highlight(0);
      warn();
    }

    function suggest() {
      var word = typing();
      clearTimeout(suggestTimer);
      if (!word) { asked++; close(); return; }
      suggestTimer = setTimeout(function () {
        var mine = ++asked;
        fetch(url + "?q=" + encodeURIComponent(word), {credentials: "same-origin", headers: {"Accept": "application/json"}})
          .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
          .then(function (found) { if (mine === asked && typing() === word) { show(found); } })
          .catch(function () { if (mine === asked) { close(); } });
      }, 120);
    }

    function choose(index) {
      var person = people[index];
      if (!person) { return; }
      var caret = box.selectionStart;
      var before = box.value.slice(0, caret).replace(/@[A-Za-z0-9_]*$/, "@" + person.handle + " ");
      box.value = before + box.value.slice(caret);
      box.setSelectionRange(before.length, before.length);
      known.set(person.handle.toLowerCase(), true);
      close();
      box.focus();
      check();
    }

    // Capture: runs before the page's own keys (chat's Enter sends, Escape cancels).
    box.addEventListener("keydown", function (event) {
      if (list.hidden || event.isComposing) { return; }
      var handled = true;
      if (event.key === "ArrowDown") {
        highlight((active + 1) % people.length);
      } else if (event.key === "ArrowUp") {
        highlight((active - 1 + people.length) % people.length);
      } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && active >= 0) {
        choose(active);
      } else if (event.key === "Escape") {
        asked++;
        close();
      } else {
        handled = false;
      }
      if (handled) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }, true);
    box.addEventListener("input", function () { suggest(); scheduleCheck(); });
    box.addEventListener("click", suggest);
    box.addEventListener("blur", function () { asked++; clearTimeout(suggestTimer); close(); });

    // --- Mentions that name no one ------------------------------------------------------
    function handlesIn(text) {
      var seen = new Set();
      var match;
      MENTION.lastIndex = 0;
      while ((match = MENTION.exec(text))) { seen.add(match[2].toLowerCase()); }
      return Array.from(seen).slice(0, 50);
    }

    function scheduleCheck() {
      clearTimeout(checkTimer);
      checkTimer = setTimeout(check, 250);
    }

    function check() {
      clearTimeout(checkTimer);
      var handles = handlesIn(box.value);
      var unasked = handles.filter(function (h) { return !known.has(h); });
      if (!unasked.length) { warn(); return; }
      fetch(url + "/known?handles=" + encodeURIComponent(unasked.join(",")),
            {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (answer) {
          unasked.forEach(function (h) { known.set(h, answer.known.indexOf(h) !== -1); });
          warn();
        })
        .catch(function () {});
    }

    // The @word being typed isn't flagged while names are suggested for it.
    function warn() {
      var word = list.hidden ? null : (typing() || "").toLowerCase();
      var nobody = handlesIn(box.value).filter(function (h) { return h !== word && known.get(h) === false; });
      warning.hidden = nobody.length === 0;
      if (!nobody.length) { warning.textContent = ""; return; }
      var names = nobody.map(function (h) { return "@" + h; });
      var listed = names.length === 1 ? names[0]
        : names.slice(0, -1).join(", ") + " and " + names[names.length - 1];
      warning.textContent = names.length === 1
        ? listed + " doesn't match anyone in this circle: it will show as plain text, and no one will be told."
        : listed + " don't match anyone in this circle: they will show as plain text, and no one will be told.";
    }

    // The page may empty or fill the box itself (chat clears it after sending).
    box.addEventListener("mentions:changed", function () { close(); check(); });
    if (box.value) { check(); }
  }

  window.Mentions = {attach: attach};
  document.querySelectorAll("textarea[data-mentions]").forEach(attach);
})();
