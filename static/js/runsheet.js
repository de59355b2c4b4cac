// A meeting date's run sheet, live (templates/agenda/_card.html). The card works
// without JavaScript (forms; the time left as of the page's load). With it, the
// page joins the date's room on /chat (the same Socket.IO connection as the
// bell's), the facilitator's buttons step the session over it, and everyone's
// countdown is worked out from the server's started_at, duration and clock, so
// a late joiner or a reconnect shows the right time. The polite live region
// says when the step changes, never each second.
(function () {
  "use strict";

  // As agenda/steps.py clock_text: "7:05 left" (rounded up), "2:10 over".
  function clockText(seconds) {
    var over = seconds < 0;
    var whole = over ? Math.floor(-seconds) : Math.ceil(seconds);
    var text = Math.floor(whole / 60) + ":" + ("0" + (whole % 60)).slice(-2);
    return over ? text + " over" : text + " left";
  }

  function nowText(state) {
    if (state.status === "ready") { return "Not started yet."; }
    if (state.status === "finished") { return "The session is over."; }
    var step = state.steps[state.step];
    return "Now: " + step.label + (step.title ? " — “" + step.title + "” (" + step.presenter + ")" : "") +
      (state.status === "paused" ? " · paused" : "");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var card = document.querySelector("[data-run-sheet]");
    if (!card || typeof window.io === "undefined") { return; }
    var state = JSON.parse(card.querySelector("[data-run-sheet-state]").textContent);
    var offset = Date.parse(state.server_time) - Date.now();  // the server's clock minus ours
    var joined = false;
    var fetching = null;
    var lastCommand = null;
    var announced = state.status + ":" + state.step;

    function q(selector) { return card.querySelector(selector); }

    function say(text) {
      var line = q("[data-run-sheet-connection]");
      if (!line) { return; }
      line.textContent = text || "";
      line.hidden = !text;
    }

    function announce(text) {
      var region = q("[data-run-sheet-announce]");
      if (!region) { return; }
      region.textContent = "";
      setTimeout(function () { region.textContent = text; }, 50);
    }

    function tick() {
      var timer = q("[data-run-sheet-timer]");
      if (!timer) { return; }
      if (state.step === null || !state.started_at) { timer.hidden = true; return; }
      var until = state.paused_at ? Date.parse(state.paused_at) : Date.now() + offset;
      var left = state.duration - (until - Date.parse(state.started_at)) / 1000;
      timer.hidden = false;
      timer.textContent = clockText(left);
      timer.classList.toggle("run-sheet__timer--over", left < 0);
    }

    // The card again from the server, when the steps themselves changed (a
    // challenge added, times changed, a phase moved): swapped in whole.
    function refetch() {
      if (fetching) { return fetching; }
      var focused = document.activeElement && card.contains(document.activeElement)
        ? document.activeElement.closest("[data-run-sheet-command]") : null;
      fetching = fetch(window.location.href, {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-run-sheet]");
          if (!fresh) { return; }
          var freshState = JSON.parse(fresh.querySelector("[data-run-sheet-state]").textContent);
          card.replaceWith(fresh);
          card = fresh;
          markJoined();
          if (freshState.version >= state.version) { state = freshState; }
          offset = Date.parse(freshState.server_time) - Date.now();
          render();
          if (focused) { refocus(focused.getAttribute("data-run-sheet-command")); }
        })
        .catch(function () { say("The run sheet couldn't be refreshed: reload the page."); })
        .then(function () { fetching = null; });
      return fetching;
    }

    // changed: the state came from the server since the card was drawn (else,
    // on load, a card without a "now" part has nothing to update).
    function render(changed) {
      var status = q("[data-run-sheet-status]");
      if (state.layout !== card.getAttribute("data-layout") || (!status && changed)) {
        refetch();
        return;
      }
      if (!status) { return; }
      status.textContent = nowText(state);
      var guidance = q("[data-run-sheet-guidance]");
      if (guidance) { guidance.textContent = state.guidance || ""; }
      var now = q(".run-sheet__now");
      if (now) { now.classList.toggle("run-sheet__now--live", state.status === "running" || state.status === "paused"); }
      card.querySelectorAll("[data-step]").forEach(function (row) {
        var here = Number(row.getAttribute("data-step")) === state.step;
        row.classList.toggle("run-sheet__step--current", here);
        if (here) { row.setAttribute("aria-current", "step"); } else { row.removeAttribute("aria-current"); }
      });
      card.querySelectorAll("[data-run-sheet-command]").forEach(function (form) {
        form.hidden = form.getAttribute("data-show").split(" ").indexOf(state.status) === -1;
        if (form.getAttribute("data-run-sheet-command") === "next") {
          form.querySelector("button").textContent =
            state.step !== null && state.step + 1 === state.steps.length ? "Finish" : "Next step";
        }
      });
      card.querySelectorAll("[data-run-sheet-version]").forEach(function (input) {
        input.value = String(state.version);
      });
      var key = state.status + ":" + state.step;
      if (key !== announced) { announced = key; announce(state.announce); }
      tick();
    }

    // After a button hid itself (Pause becomes Resume), focus goes to its partner.
    var PARTNER = {pause: "resume", resume: "pause", start: "next", next: "next", back: "back",
                   add_minute: "add_minute"};
    function refocus(command) {
      var order = [command, PARTNER[command], "next", "back", "start"];
      for (var i = 0; i < order.length; i++) {
        var form = q('[data-run-sheet-command="' + order[i] + '"]');
        if (form && !form.hidden) { form.querySelector("button").focus(); return; }
      }
    }

    function apply(next) {
      if (!next || next.date !== state.date || next.version < state.version) { return; }
      // The same version is the state the card was drawn from (the join's
      // answer on load): redrawing it would only swap the card under a click.
      var changed = next.version > state.version;
      offset = Date.parse(next.server_time) - Date.now();
      state = next;
      render(changed);
    }

    var options = {withCredentials: true, reconnectionDelay: 1000, reconnectionDelayMax: 10000,
                   randomizationFactor: 0.5};
    var only = document.querySelector('meta[name="socketio-transports"]');
    if (only) { options.transports = only.content.split(","); }
    var socket = window.io("/chat", options);
    var where = {circle: state.circle, meeting: state.meeting, date: state.date};

    // data-run-sheet-joined: the card follows the room (a readiness mark, as
    // mentions.js's, that the browser tests wait for).
    function markJoined() { card.toggleAttribute("data-run-sheet-joined", joined); }

    function join() {
      socket.emit("join_run_sheet", where, function (answer) {
        if (!answer || !answer.ok) {
          joined = false;
          say((answer && answer.message) || "Live updates are paused; retrying.");
          if (answer && (answer.error === "unavailable" || answer.error === "rate_limited")) {
            setTimeout(function () { if (socket.connected) { join(); } }, 3000);
          }
          return;
        }
        joined = true;
        markJoined();
        say("");
        apply(answer.run_sheet);
      });
    }

    socket.on("connect", join);
    socket.on("resync", join);
    socket.on("disconnect", function () {
      joined = false;
      markJoined();
      say("Live updates are paused; reconnecting…");
    });
    socket.on("run_sheet_changed", apply);
    socket.on("removed", function (data) {
      if (data && data.circle === state.circle) {
        joined = false;
        say("You are no longer a member of this circle.");
        socket.disconnect();
      }
    });

    // The facilitator's buttons go over the socket while it is joined; else the form posts.
    document.addEventListener("submit", function (event) {
      var form = event.target.closest && event.target.closest("[data-run-sheet-command]");
      if (!form || !card.contains(form) || !joined || !socket.connected) { return; }
      event.preventDefault();
      var command = form.getAttribute("data-run-sheet-command");
      lastCommand = command;
      var button = form.querySelector("button");
      button.disabled = true;
      socket.timeout(10000).emit("step_run_sheet",
        Object.assign({command: command, version: state.version}, where), function (err, answer) {
          button.disabled = false;
          if (err) { say("The server didn't answer: try again."); return; }
          if (!answer.ok) {
            say(answer.message);
            if (answer.error === "stale") { join(); }
            return;
          }
          say("");
          apply(answer.run_sheet);
          if (form.hidden || !card.contains(form)) { refocus(lastCommand); }
        });
    });

    render();
    setInterval(tick, 500);
  });
})();
