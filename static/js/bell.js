// The bell in the navigation, kept current while the page is open: the server
// nudges this page over Socket.IO when a notification arrives for its user,
// and the page fetches the new count. Without JavaScript the count still
// shows, as of the last page load.
(function () {
  "use strict";

  function setCount(bell, count) {
    var badge = bell.querySelector("[data-bell-count]");
    bell.setAttribute("data-unread", String(count));
    if (count > 0 && !badge) {
      badge = document.createElement("span");
      badge.className = "badge";
      badge.setAttribute("data-bell-count", "");
      bell.appendChild(document.createTextNode(" "));
      bell.appendChild(badge);
    }
    if (badge) {
      badge.textContent = count > 99 ? "99+" : String(count);  // as community/badges.py writes it
      badge.hidden = count === 0;
    }
  }

  function csrfToken() {
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  // POST to one of the notification routes; the answer carries the bell's count.
  function post(url, data, bell) {
    return fetch(url, { method: "POST", body: new URLSearchParams(data || {}), keepalive: true,
                        credentials: "same-origin",
                        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && bell) { setCount(bell, data.unread); } })
      .catch(function () {});
  }

  // The notifications page: what it shows is now seen, so the bell drops; a
  // notification's link opens in a new tab and marks it read.
  function notificationPage(bell) {
    var list = document.querySelector(".notification-list");
    if (!list) { return; }
    if (list.getAttribute("data-seen-ids")) {
      post(list.getAttribute("data-seen-url"), { ids: list.getAttribute("data-seen-ids") }, bell);
    }
    function opened(event) {
      var link = event.target.closest && event.target.closest("a[data-open-url]");
      if (!link || (event.type === "auxclick" && event.button !== 1)) { return; }
      var item = link.closest(".notification");
      if (!item.classList.contains("notification--unread")) { return; }
      item.classList.remove("notification--unread");
      var pill = item.querySelector(".pill");
      if (pill) { pill.remove(); }
      post(link.getAttribute("data-open-url"), {}, bell);
    }
    list.addEventListener("click", opened);
    list.addEventListener("auxclick", opened);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var bell = document.querySelector("a.bell[data-unread-url]");
    notificationPage(bell);
    if (!bell || typeof io === "undefined") { return; }
    // Only the transports the server takes, when it says (templates/base.html).
    var only = document.querySelector('meta[name="socketio-transports"]');
    // Jittered backoff, as chat.js: pages don't all come back in the same second.
    var socket = io("/notifications",
                    { transports: only ? only.content.split(",") : ["websocket", "polling"],
                      reconnectionDelay: 1000, reconnectionDelayMax: 10000,
                      randomizationFactor: 0.5 });
    // The Messages link's badge works as the bell's: nudged by "messages".
    var inbox = document.querySelector("a.messages-link[data-unread-url]");
    function refresh(link) {
      if (!link) { return; }
      fetch(link.getAttribute("data-unread-url"), { credentials: "same-origin",
                                                  headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data) { setCount(link, data.unread); } })
        .catch(function () {});
    }
    socket.on("notification", function () { refresh(bell); });
    socket.on("messages", function () { refresh(inbox); });
    // Back after a break: a nudge may have been missed meanwhile.
    var connects = 0;
    var tries = 0;
    socket.on("connect", function () {
      if (connects++ > 0) { refresh(bell); refresh(inbox); }
      tries = 0;
    });
    // A refusal (signed out; "unavailable" while the server's Redis is away) ends
    // socket.io-client's own retries. The bell stays as it is; unless signed out,
    // try again later, backing off with jitter.
    socket.on("connect_error", function (err) {
      var code = err && err.data && err.data.error;
      if (socket.active || code === "unauthorised" || code === "forbidden_origin" ||
          /sign in|may not connect/i.test((err && err.message) || "")) { return; }
      tries += 1;
      var delay = Math.min(1000 * Math.pow(2, tries - 1), 30000) * (0.5 + Math.random());
      setTimeout(function () { if (!socket.connected) { socket.connect(); } }, delay);
    });
  });
})();
