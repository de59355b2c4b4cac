// Thread pages: record what was read, quote a selection (@mentions: mentions.js).
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

  document.addEventListener("DOMContentLoaded", function () {
    markRead();
    quoting();
  });
})();
