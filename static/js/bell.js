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
      badge.textContent = String(count);
      badge.hidden = count === 0;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var bell = document.querySelector("a.bell[data-unread-url]");
    if (!bell || typeof io === "undefined") { return; }
    // Only the transports the server takes, when it says (templates/base.html).
    var only = document.querySelector('meta[name="socketio-transports"]');
    var socket = io("/notifications",
                    { transports: only ? only.content.split(",") : ["websocket", "polling"] });
    socket.on("notification", function () {
      fetch(bell.getAttribute("data-unread-url"), { credentials: "same-origin",
                                                  headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) { setCount(bell, data.unread); })
        .catch(function () {});
    });
  });
})();
