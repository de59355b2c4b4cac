// Thread pages: record what was read, quote a selection, @mention autocomplete.
// Everything here is an enhancement; the page works without it.
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function post(url, data) {
    var body = new URLSearchParams(data);
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    });
  }

  // Mark read up to the last post on this page once it has been shown.
  function markRead() {
    var thread = document.querySelector("[data-read-url]");
    var posts = document.querySelectorAll(".post[data-number]");
    if (!thread || !posts.length) { return; }
    var last = posts[posts.length - 1].getAttribute("data-number");
    post(thread.getAttribute("data-read-url"), { number: last }).catch(function () {});
  }

  // "Quote": the selected part of the post if any, else the whole post, into the reply box.
  function quoting() {
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("[data-quote]");
      var box = document.querySelector("#reply textarea");
      if (!link || !box) { return; }
      var article = link.closest(".post");
      var prose = article.querySelector("[data-quote-source]");
      var selection = window.getSelection ? String(window.getSelection()) : "";
      var inPost = selection && prose.contains(window.getSelection().anchorNode);
      var text = (inPost ? selection : prose.innerText).trim();
      var author = article.querySelector(".post__author");
      var who = author ? author.textContent.trim() : "Someone";
      var quoted = text.split("\n").map(function (line) { return "> " + line; }).join("\n");
      event.preventDefault();
      box.value = (box.value ? box.value + "\n\n" : "") + "> " + who + " wrote:\n" + quoted + "\n\n";
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    });
  }

  // @mention autocomplete: a small listbox under the textarea.
  function mentions() {
    document.querySelectorAll("textarea[data-mentions]").forEach(function (box) {
      var list = document.createElement("ul");
      list.className = "mention-list";
      list.setAttribute("role", "listbox");
      list.hidden = true;
      box.insertAdjacentElement("afterend", list);
      var timer = null;

      function wordBeforeCaret() {
        var upto = box.value.slice(0, box.selectionStart);
        var match = /(^|\s)@([\w]{1,40})$/.exec(upto);
        return match ? match[2] : null;
      }

      function choose(handle) {
        var caret = box.selectionStart;
        var upto = box.value.slice(0, caret).replace(/@[\w]*$/, "@" + handle + " ");
        box.value = upto + box.value.slice(caret);
        box.setSelectionRange(upto.length, upto.length);
        list.hidden = true;
        box.focus();
      }

      box.addEventListener("input", function () {
        var word = wordBeforeCaret();
        clearTimeout(timer);
        if (!word) { list.hidden = true; return; }
        timer = setTimeout(function () {
          fetch(box.getAttribute("data-mentions") + "?q=" + encodeURIComponent(word), { credentials: "same-origin" })
            .then(function (r) { return r.json(); })
            .then(function (people) {
              list.textContent = "";
              people.forEach(function (person) {
                var item = document.createElement("li");
                var button = document.createElement("button");
                button.type = "button";
                button.textContent = person.name + " (@" + person.handle + ")";
                button.addEventListener("click", function () { choose(person.handle); });
                item.appendChild(button);
                list.appendChild(item);
              });
              list.hidden = people.length === 0;
            }).catch(function () { list.hidden = true; });
        }, 150);
      });
      box.addEventListener("keydown", function (event) {
        if (event.key === "Escape") { list.hidden = true; }
        if (event.key === "ArrowDown" && !list.hidden) {
          var first = list.querySelector("button");
          if (first) { event.preventDefault(); first.focus(); }
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    markRead();
    quoting();
    mentions();
  });
})();
