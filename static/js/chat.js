// Live chat for /c/<slug>/chat and for a direct conversation, /messages/<id>.
// Plain JavaScript, no build step; talks to the Socket.IO namespace /chat with
// the vendored client (static/vendor/socket.io). The page's #chat says which
// place: data-circle (a slug) or data-conversation (an id); every event names
// it the same way ({circle: slug} or {conversation: id}).
//
// What it keeps working across a dropped connection or a server restart:
// - every message we send carries a client_id; until the server acks it, it
//   stays in the outbox and is sent again (same client_id) after reconnecting,
//   and the server stores it once;
// - every message has `seq`, its number in the circle (1, 2, 3... no gap). We
//   keep `contiguous`, the last number we hold with none missing before it
//   (our own acks and broadcasts move it only when nothing is missing): a
//   message numbered beyond it + 1 means some were lost on the way, and we
//   fetch exactly those; on every (re)connect we join with after_seq =
//   contiguous and the server time of our last join (changed_since), and on
//   the server's `resync` we fetch after contiguous, so nothing stored is
//   ever missing for long; each message is shown once (by id), in seq order;
// - reconnects back off with jitter, so a thousand pages don't all come back
//   in the same second; while the server says live updates are paused (its
//   Redis is away: error `unavailable`) we say so and keep trying.
//
// Files: the composer's picker (templates/files/_picker.html) uploads them and
// keeps a hidden input name="attachments" per file in the form; a message
// carries their ids (and may then have no text), and once the server has the
// message the form is reset, which clears the picker.
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root) { return; }
  var statusEl = document.getElementById("chat-status");
  root.hidden = false;
  if (typeof window.io !== "function") {
    setStatus("The chat could not load. Reload the page to try again.", "error");
    return;
  }

  var slug = root.getAttribute("data-circle");
  var conversation = Number(root.getAttribute("data-conversation")) || null;
  var place = conversation ? {conversation: conversation} : {circle: slug};
  var reportUrl = root.getAttribute("data-report-url");  // conversations: a page per report
  var me = Number(root.getAttribute("data-me"));
  var isModerator = root.getAttribute("data-moderator") === "true";
  var zone = root.getAttribute("data-timezone") || undefined;

  var listEl = document.getElementById("chat-messages");
  var scroller = document.getElementById("chat-scroller");
  var emptyEl = document.getElementById("chat-empty");
  var olderBtn = document.getElementById("chat-older");
  var jumpBtn = document.getElementById("chat-jump");
  var typingEl = document.getElementById("chat-typing");
  var form = document.getElementById("chat-composer");
  var input = document.getElementById("chat-body");
  var onlineEl = document.getElementById("chat-online");
  var onlineCount = document.getElementById("chat-online-count");

  var messages = new Map();  // id -> {data, el}
  var outbox = new Map();    // client_id -> {body, attachments, el, failed}
  var attached = new Set();  // upload ids the server has attached to a message of ours
  var newestId = null;
  var oldestId = null;
  var contiguous = null;     // last seq held with none missing before it (null: not joined yet)
  var ahead = new Set();     // seqs held beyond a gap
  var filling = false;       // a fetch is on its way
  var fillAgain = false;     // ...and another is wanted when it answers
  var wantAll = false;       // ...of everything after contiguous (a resync)
  var joinTries = 0;
  var gapTimer = null;
  var GAP_GRACE = 700;       // ms a gap may last before we fetch it
  var serverTime = null;
  var joined = false;
  var closed = false;        // removed from the circle, or signed out
  var typers = new Map();    // user id -> {name, until}
  var lastTypingSent = 0;
  var readTimer = null;
  var lastReadSent = 0;
  var refusal = null;        // why we can't write here (a conversation), or null

  // An event's payload, naming our place.
  function at(extra) {
    var payload = {};
    Object.keys(place).forEach(function (key) { payload[key] = place[key]; });
    Object.keys(extra || {}).forEach(function (key) { payload[key] = extra[key]; });
    return payload;
  }

  // Whether an event from the server is about our place.
  function here(data) {
    return Boolean(data) && (conversation ? data.conversation === conversation : data.circle === slug);
  }

  // --- Time, in the viewer's own timezone and on their clock -------------------------
  // Written as the server writes every other time (static/js/timefmt.js mirrors
  // community/timefmt.py); the browser's locale decides nothing.
  var clock = root.getAttribute("data-clock") === "12" ? "12" : "24";
  var T = window.TimeFormat;

  function setTime(el, iso) {
    el.dateTime = iso;
    el.title = T.full(iso, zone, clock);
    el.textContent = T.relative(iso, zone, clock);
  }

  // "just now" becomes "1 minute ago": keep the shown times true.
  setInterval(function () {
    listEl.querySelectorAll("time[datetime]").forEach(function (el) {
      el.textContent = T.relative(el.dateTime, zone, clock);
    });
  }, 30000);

  // --- Status line ----------------------------------------------------------------------
  function setStatus(text, kind, link) {
    statusEl.textContent = text;
    statusEl.className = "chat__status" + (kind ? " chat__status--" + kind : "");
    if (link) {
      statusEl.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      statusEl.appendChild(a);
    }
  }

  function errorText(answer) {
    return (answer && answer.message) || "Something went wrong. Try again.";
  }

  // --- Rendering ------------------------------------------------------------------------
  function button(label, onClick, extraClass) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "link-button" + (extraClass ? " " + extraClass : "");
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  function renderMessage(data, li) {
    li = li || document.createElement("li");
    li.className = "chat-msg" + (data.author && data.author.id === me ? " chat-msg--mine" : "");
    li.id = "message-" + data.id;
    li.setAttribute("data-id", String(data.id));
    if (data.seq) { li.setAttribute("data-seq", String(data.seq)); }
    li.setAttribute("data-day", T.dayKey(data.created_at, zone));
    li.textContent = "";

    var head = document.createElement("div");
    head.className = "chat-msg__head";
    var author = document.createElement("span");
    author.className = "chat-msg__author";
    author.textContent = data.author ? data.author.name : "Former member";
    var time = document.createElement("time");
    time.className = "chat-msg__time";
    setTime(time, data.created_at);
    head.appendChild(author);
    head.appendChild(time);
    if (data.edited_at) {
      var edited = document.createElement("span");
      edited.className = "chat-msg__edited";
      edited.textContent = "(edited)";
      edited.title = "Edited " + T.full(data.edited_at, zone, clock);
      head.appendChild(edited);
    }
    li.appendChild(head);

    var body = document.createElement("div");
    body.className = "chat-msg__body";
    // Safe: the server renders Markdown and sanitises it with an allow-list
    // (community/content.py), and the page's CSP forbids inline script.
    body.innerHTML = data.html;
    li.appendChild(body);
    if (data.attachments && data.attachments.length) { li.appendChild(renderFiles(data.attachments)); }

    var tools = document.createElement("div");
    tools.className = "chat-msg__tools";
    var mine = data.author && data.author.id === me;
    if (mine) { tools.appendChild(button("Edit", function () { startEdit(data.id); })); }
    if (mine || isModerator) { tools.appendChild(button("Delete", function () { deleteMessage(data.id); })); }
    if (!mine && reportUrl) {
      var report = document.createElement("a");
      report.className = "link-button";
      report.href = reportUrl.replace("{id}", String(data.id));
      report.textContent = "Report";
      tools.appendChild(report);
    } else if (!mine) { tools.appendChild(button("Report", function () { startReport(data.id); })); }
    li.appendChild(tools);
    return li;
  }

  // A message's files: images as thumbnails linking to the image, other files as
  // a link with name and size. Names are text (textContent, alt), never markup.
  function renderFiles(files) {
    var list = document.createElement("ul");
    list.className = "chat-msg__files";
    files.forEach(function (file) {
      if (!file || !sitePath(file.url)) { return; }
      var name = String(file.name || "file");
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = file.url;
      if (sitePath(file.thumbnail_url)) {
        item.className = "chat-file chat-file--image";
        link.target = "_blank";  // an image opens beside the chat, not instead of it
        link.rel = "noopener";
        var img = document.createElement("img");
        img.src = file.thumbnail_url;
        img.alt = name;
        img.loading = "lazy";
        link.appendChild(img);
      } else {
        item.className = "chat-file";
        link.className = "chat-file__name";
        link.textContent = name;
      }
      item.appendChild(link);
      if (!item.classList.contains("chat-file--image")) {
        var size = document.createElement("span");
        size.className = "chat-file__size";
        size.textContent = " " + sizeText(file.size);
        item.appendChild(size);
      }
      list.appendChild(item);
    });
    return list;
  }

  // Only our own paths ("/c/..."): never another host, nor a javascript: URL.
  function sitePath(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" && url.charAt(1) !== "\\";
  }

  // As the server writes sizes (files/base.py describe_size): "512 KB", "1.5 MB".
  function sizeText(bytes) {
    bytes = Number(bytes) || 0;
    var units = [["GB", 1073741824], ["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i += 1) {
      if (bytes >= units[i][1]) { return Number((bytes / units[i][1]).toPrecision(3)) + " " + units[i][0]; }
    }
    return bytes + " bytes";
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    jumpBtn.hidden = true;
  }

  // Insert or update messages (once each, by id), kept in seq order, before any
  // still-pending ones.
  function addMessages(list, opts) {
    opts = opts || {};
    var stick = nearBottom();
    var before = scroller.scrollHeight;
    var added = false;
    list.forEach(function (data) {
      if (data.deleted) { removeMessage(data.id); return; }
      var known = messages.get(data.id);
      if (known) {
        known.data = data;
        renderMessage(data, known.el);
        return;
      }
      if (data.client_id && outbox.has(data.client_id) && data.author && data.author.id === me) {
        var pending = outbox.get(data.client_id);
        pending.el.remove();
        outbox.delete(data.client_id);
        if (pending.attachments.length) { filesSent(pending.attachments); }
      }
      var el = renderMessage(data);
      var next = null;
      for (var child = listEl.firstElementChild; child; child = child.nextElementSibling) {
        if (child.classList.contains("chat-msg--pending") || comesAfter(child, data)) { next = child; break; }
      }
      listEl.insertBefore(el, next);
      messages.set(data.id, {data: data, el: el});
      if (newestId === null || data.id > newestId) { newestId = data.id; }
      if (oldestId === null || data.id < oldestId) { oldestId = data.id; }
      added = true;
    });
    if (!added) { return; }
    markDays();
    emptyEl.hidden = messages.size > 0 || outbox.size > 0;
    if (opts.prepended) {
      scroller.scrollTop += scroller.scrollHeight - before;
    } else if (stick || opts.scroll) {
      scrollToBottom();
    } else {
      jumpBtn.hidden = false;
    }
    scheduleRead();
  }

  function comesAfter(el, data) {
    var seq = Number(el.getAttribute("data-seq"));
    if (seq && data.seq) { return seq > data.seq; }
    var id = Number(el.getAttribute("data-id"));
    return id && id > data.id;
  }

  // --- Sequence: what we hold, what is missing ---------------------------------------------
  // Note the seqs of messages received (broadcast, ack or fetched); a gap asks
  // for the missing ones.
  function noteSeqs(list) {
    list.forEach(function (data) {
      if (data.seq && (contiguous === null || data.seq > contiguous)) { ahead.add(data.seq); }
    });
    if (contiguous === null) { return; }  // first join: its answer sets contiguous
    advance();
    if (hasGap() && !gapTimer) {
      // Give the missing ones a moment to arrive on their own: another process's
      // broadcast can come just after our own ack of a later message.
      gapTimer = setTimeout(function () {
        gapTimer = null;
        if (hasGap()) { fill(); }
      }, GAP_GRACE);
    }
  }

  function hasGap() {
    var gap = false;
    ahead.forEach(function (seq) { if (seq > contiguous + 1) { gap = true; } });
    return gap;
  }

  // Everything up to `through` is held (a join or fetch covered it).
  function heldThrough(through) {
    if (typeof through !== "number") { return; }
    contiguous = contiguous === null ? through : Math.max(contiguous, through);
    advance();
  }

  function advance() {
    while (ahead.has(contiguous + 1)) { contiguous += 1; }
    ahead.forEach(function (seq) { if (seq <= contiguous) { ahead.delete(seq); } });
  }

  // Fetch what follows contiguous: up to the last seq we hold beyond a gap
  // (every missing range in one answer), or everything (after a resync). One
  // at a time; what is asked for meanwhile is fetched after it.
  function fill(everything) {
    if (everything) { wantAll = true; }
    if (!joined || closed) { return; }  // the next join catches up anyway
    if (filling) { fillAgain = true; return; }
    filling = true;
    var all = wantAll;
    wantAll = false;
    var payload = at({after_seq: contiguous});
    var lastAhead = null;
    ahead.forEach(function (seq) { if (lastAhead === null || seq > lastAhead) { lastAhead = seq; } });
    if (!all && lastAhead !== null) { payload.before_seq = lastAhead; }
    socket.timeout(10000).emit("fetch", payload, function (err, answer) {
      filling = false;
      if (err || !answer.ok) {
        var code = answer && answer.error;
        if (code === "not_found" || code === "unauthorised" || code === "pledge_required" ||
            code === "second_factor_required") {
          handleFailure(answer);
        } else if (code !== "invalid") {
          // No answer, or not now (rate_limited, unavailable...): again a little later.
          setTimeout(function () { fill(all); }, backoff(2));
        }
        return;
      }
      var from = contiguous;
      addMessages(answer.messages);
      heldThrough(answer.through);
      var again = fillAgain;
      fillAgain = false;
      if (answer.has_newer) {
        fill(all);
      } else if (again || wantAll || (hasGap() && contiguous > from)) {
        fill();
      } else if (hasGap()) {
        // The server had nothing new for the gap (yet): look again shortly.
        setTimeout(function () { fill(); }, backoff(2));
      }
    });
  }

  // Seconds, jittered by half either way: retries from many pages spread out.
  function backoff(tries) {
    var base = Math.min(1000 * Math.pow(2, Math.max(0, tries - 1)), 10000);
    return base * (0.5 + Math.random());
  }

  function removeMessage(id) {
    var known = messages.get(id);
    if (!known) { return; }
    var hadFocus = known.el.contains(document.activeElement);
    known.el.remove();
    messages.delete(id);
    if (hadFocus) { input.focus(); }
    markDays();
    emptyEl.hidden = messages.size > 0 || outbox.size > 0;
  }

  // A heading before the first message of each day.
  function markDays() {
    listEl.querySelectorAll(".chat__day").forEach(function (el) { el.remove(); });
    var previous = null;
    listEl.querySelectorAll(".chat-msg[data-day]").forEach(function (el) {
      var day = el.getAttribute("data-day");
      if (day !== previous) {
        var sep = document.createElement("li");
        sep.className = "chat__day";
        var msg = messages.get(Number(el.getAttribute("data-id")));
        sep.textContent = msg ? T.day(msg.data.created_at, zone) : day;
        listEl.insertBefore(sep, el);
        previous = day;
      }
    });
  }

  function renderOnline(people) {
    if (!onlineEl) { return; }  // a conversation shows no presence
    onlineEl.textContent = "";
    (people || []).forEach(function (person) {
      var li = document.createElement("li");
      var dot = document.createElement("span");
      dot.className = "chat-online__dot";
      dot.setAttribute("aria-hidden", "true");
      li.appendChild(dot);
      li.appendChild(document.createTextNode(person.name));
      if (person.id === me) {
        var you = document.createElement("span");
        you.className = "chat-online__me";
        you.textContent = " (you)";
        li.appendChild(you);
      }
      onlineEl.appendChild(li);
    });
    onlineCount.textContent = String((people || []).length);
  }

  function renderTyping() {
    var now = Date.now();
    var names = [];
    typers.forEach(function (t, id) {
      if (t.until > now) { names.push(t.name); } else { typers.delete(id); }
    });
    if (!names.length) { typingEl.textContent = ""; return; }
    typingEl.textContent = names.length === 1 ? names[0] + " is typing…"
      : names.length === 2 ? names[0] + " and " + names[1] + " are typing…"
      : "Several people are typing…";
  }
  setInterval(renderTyping, 1000);

  // --- Socket -----------------------------------------------------------------------------
  // Reconnect after 1 s, doubling up to 10 s, each delay jittered by half either
  // way (socket.io-client's backoff): a restarted server is not hit by every
  // page in the same second.
  var options = {withCredentials: true, reconnectionDelay: 1000, reconnectionDelayMax: 10000,
                 randomizationFactor: 0.5};
  // Only the transports the server takes, when it says (templates/base.html): with
  // several worker processes on one port, WebSocket only.
  var only = document.querySelector('meta[name="socketio-transports"]');
  if (only) { options.transports = only.content.split(","); }
  var socket = window.io("/chat", options);

  function join() {
    if (closed) { return; }
    var payload = at();
    var catchingUp = contiguous !== null;
    if (catchingUp) {
      payload.after_seq = contiguous;
      if (serverTime) { payload.changed_since = serverTime; }
    }
    socket.timeout(15000).emit("join", payload, function (err, answer) {
      if (err || (!answer.ok && (answer.error === "unavailable" || answer.error === "rate_limited"))) {
        // Not answering, or not now: again, backing off, while this socket lasts.
        joinTries += 1;
        if (answer && answer.error === "unavailable") {
          setStatus("Live updates paused, retrying…", "error");
        } else if (answer) {
          setStatus(errorText(answer), "error");
        } else {
          setStatus("The chat is not answering. Trying again…", "error");
        }
        setTimeout(function () { if (socket.connected && !joined) { join(); } }, backoff(joinTries));
        return;
      }
      if (!answer.ok) { handleFailure(answer); return; }
      joinTries = 0;
      serverTime = answer.server_time;
      if (!catchingUp) { olderBtn.hidden = !answer.has_older; }
      addMessages(answer.messages, {scroll: !catchingUp});
      addMessages(answer.changed || []);
      heldThrough(answer.through);
      renderOnline(answer.online);
      if (answer.has_newer) { join(); return; }
      joined = true;
      emptyEl.hidden = messages.size > 0 || outbox.size > 0;
      if (conversation) { writable(answer.refusal || null); }
      if (!refusal) {
        setStatus(answer.live === false ? "Connected; new messages show when you reload." : "Connected.", "ok");
        flushOutbox();
      }
      noteSeqs([]);  // anything that came beyond a gap while joining
      if (!catchingUp) { showTarget(); }
    });
  }

  // A conversation may stop taking messages (a block, someone left, no circle
  // shared any more) and start again: the composer says why, and what was
  // typed stays in the box.
  function writable(why) {
    refusal = why;
    input.readOnly = Boolean(why);
    var sendButton = form.querySelector("button[type=submit]");
    if (sendButton) { sendButton.disabled = Boolean(why); }
    if (why) {
      form.setAttribute("aria-disabled", "true");
      setStatus(why, "error");
      outbox.forEach(function (item, clientId) { failed(clientId, {message: why}); });
    } else {
      form.removeAttribute("aria-disabled");
    }
  }

  function handleFailure(answer) {
    if (answer.error === "not_found") {
      close("This chat is no longer available to you.");
    } else if (answer.error === "unauthorised") {
      close("Your session has ended.", true);
    } else if (answer.error === "pledge_required" || answer.error === "second_factor_required") {
      close(answer.message);
    } else {
      setStatus(errorText(answer), "error");
    }
  }

  function close(text, signIn) {
    if (closed) { return; }
    closed = true;
    joined = false;
    socket.disconnect();
    // What the person wrote and the circle never got stays with them, to copy:
    // messages still waiting to go, then whatever is in the box.
    var unsent = [];
    outbox.forEach(function (item) { unsent.push(item.body); });
    outbox.clear();
    if (input.value.trim()) { unsent.push(input.value); }
    listEl.textContent = "";
    messages.clear();
    renderOnline([]);
    typingEl.textContent = "";
    olderBtn.hidden = true;
    input.value = unsent.join("\n\n");
    input.readOnly = true;  // not disabled: its text can still be selected and copied
    var sendButton = form.querySelector("button[type=submit]");
    if (sendButton) { sendButton.disabled = true; }
    form.setAttribute("aria-disabled", "true");
    if (unsent.length) {
      text += " Your unsent message was not posted; it is kept in the box below for you to copy.";
      input.setAttribute("aria-describedby", "chat-status");
    }
    setStatus(text, "error", signIn ? {href: "/auth/login?next=" + encodeURIComponent(location.pathname), text: "Sign in again"} : null);
  }

  socket.on("connect", function () {
    setStatus("Connected. Loading messages…");
    joined = false;
    join();
  });

  socket.on("disconnect", function (reason) {
    joined = false;
    if (closed) { return; }
    if (reason === "io server disconnect") {
      close("Your session has ended.", true);
    } else {
      setStatus("Connection lost. Reconnecting… Messages you send now go out when it's back.", "error");
    }
  });

  var connectTries = 0;
  socket.on("connect_error", function (err) {
    var code = err && err.data && err.data.error;
    if (code === "unauthorised") {
      close("Your session has ended.", true);
      return;
    } else if (code === "forbidden_origin") {
      close("This page may not connect to the chat.");
      return;
    } else if (code === "unavailable") {
      setStatus("Live updates paused, retrying…", "error");
    } else {
      setStatus("Can't reach the chat. Trying again…", "error");
    }
    // A refusal by the server ends socket.io-client's own retries (socket.active
    // is false then); try again ourselves, backing off with jitter.
    if (!socket.active) {
      connectTries += 1;
      setTimeout(function () { if (!closed && !socket.connected) { socket.connect(); } },
                 backoff(connectTries));
    }
  });
  socket.on("connect", function () { connectTries = 0; });

  // The server may have lost a broadcast (its message queue was away): fetch
  // whatever follows what we hold. After a random moment, so the pages told
  // at once don't all ask at once.
  socket.on("resync", function () {
    setTimeout(function () { fill(true); }, Math.random() * 1500);
  });

  socket.on("message_created", function (data) {
    if (!here(data)) { return; }
    if (data.author) { typers.delete(data.author.id); renderTyping(); }
    addMessages([data]);
    noteSeqs([data]);
  });
  socket.on("message_edited", function (data) {
    if (here(data) && messages.has(data.id)) { addMessages([data]); }
  });
  socket.on("message_deleted", function (data) {
    if (here(data)) { removeMessage(data.id); }
  });
  socket.on("presence", function (data) {
    if (here(data)) { renderOnline(data.online); }
  });
  socket.on("typing", function (data) {
    if (!here(data) || !data.user || data.user.id === me) { return; }
    typers.set(data.user.id, {name: data.user.name, until: Date.now() + 5000});
    renderTyping();
  });
  socket.on("removed", function (data) {
    if (!here(data)) { return; }
    if (conversation) {
      // We no longer hear it live: join again, and its answer says why.
      joined = false;
      join();
      return;
    }
    // A moderator's reason comes as the whole sentence ("You are no longer a member of X. ...").
    var said = data.message || "You are no longer a member of this circle.";
    close(said + (/[.!?…]$/.test(said) ? "" : ".") + " Its chat is closed.");
  });
  socket.on("error", function (answer) {
    // Failures of events sent with an ack are shown where they happened.
    if (answer && answer.event === "typing") { return; }
    if (answer && answer.error === "rate_limited") { setStatus(errorText(answer), "error"); }
  });

  // --- Sending ----------------------------------------------------------------------------
  function newClientId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function pendingElement(body, files) {
    var li = document.createElement("li");
    li.className = "chat-msg chat-msg--mine chat-msg--pending";
    var head = document.createElement("div");
    head.className = "chat-msg__head";
    var author = document.createElement("span");
    author.className = "chat-msg__author";
    author.textContent = "You";
    var state = document.createElement("span");
    state.className = "chat-msg__state";
    state.textContent = "Sending…";
    head.appendChild(author);
    head.appendChild(state);
    var text = document.createElement("div");
    text.className = "chat-msg__body";
    text.textContent = body;  // shown as typed until the server's rendering arrives
    li.appendChild(head);
    li.appendChild(text);
    if (files.length) {
      var note = document.createElement("p");
      note.className = "chat-msg__state";
      note.textContent = files.length === 1 ? "With 1 file" : "With " + files.length + " files";
      li.appendChild(note);
    }
    return li;
  }

  function send(body, files) {
    var clientId = newClientId();
    var item = {body: body, attachments: files, el: pendingElement(body, files), failed: false};
    outbox.set(clientId, item);
    listEl.appendChild(item.el);
    emptyEl.hidden = true;
    scrollToBottom();
    if (joined) { deliver(clientId); }
  }

  function deliver(clientId) {
    var item = outbox.get(clientId);
    if (!item) { return; }
    item.failed = false;
    item.el.classList.remove("chat-msg--failed");
    item.el.querySelector(".chat-msg__state").textContent = "Sending…";
    socket.timeout(10000).emit("send_message",
      at({body: item.body, client_id: clientId, attachments: item.attachments}),
      function (err, answer) {
        if (!outbox.has(clientId)) { return; }  // the broadcast arrived first
        if (err) { return; }  // no answer: it goes again, same client_id, after reconnecting
        if (answer.ok) {
          addMessages([answer.message]);
          noteSeqs([answer.message]);  // past a gap, it asks for the missing ones
          return;
        }
        failed(clientId, answer);
        if (answer.error === "cant_send") { writable(answer.message); }
      });
  }

  function failed(clientId, answer) {
    var item = outbox.get(clientId);
    item.failed = true;
    item.el.classList.add("chat-msg--failed");
    var state = item.el.querySelector(".chat-msg__state");
    state.textContent = errorText(answer) + " ";
    state.appendChild(button("Try again", function () { deliver(clientId); }));
    state.appendChild(document.createTextNode(" "));
    state.appendChild(button("Discard", function () {
      item.el.remove();
      outbox.delete(clientId);
      input.focus();
    }));
    if (answer.error === "not_found" || answer.error === "unauthorised") { handleFailure(answer); }
  }

  // The ids in the composer's picker not yet given to a message: those of a
  // message waiting to go, or already stored, are not sent again.
  function composerFiles() {
    var ids = [];
    form.querySelectorAll('input[name="attachments"]').forEach(function (el) {
      var id = el.value;
      if (!id || attached.has(id) || ids.indexOf(id) !== -1) { return; }
      var queued = false;
      outbox.forEach(function (item) { if (item.attachments.indexOf(id) !== -1) { queued = true; } });
      if (!queued) { ids.push(id); }
    });
    return ids;
  }

  // The server has a message with these files: clear the picker (form.reset),
  // unless it holds files added since, not yet sent (they go with the next
  // message, and the picker is cleared then). What is typed meanwhile stays.
  function filesSent(ids) {
    ids.forEach(function (id) { attached.add(id); });
    if (composerFiles().length) { return; }
    var typed = input.value;
    form.reset();
    input.value = typed;
  }

  function uploading() {
    var sendButton = form.querySelector("button[type=submit]");
    return Boolean(sendButton && sendButton.disabled);  // the picker disables it during uploads
  }

  function flushOutbox() {
    outbox.forEach(function (item, clientId) { if (!item.failed) { deliver(clientId); } });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (closed) { return; }
    if (uploading()) {
      var wait = "Wait for the files to finish uploading, then send.";
      setStatus(wait);
      setTimeout(function () { if (statusEl.textContent === wait) { setStatus(""); } }, 4000);
      return;
    }
    var body = input.value.trim();
    var files = composerFiles();
    if (!body && !files.length) { return; }
    input.value = "";
    input.dispatchEvent(new Event("mentions:changed"));  // mentions.js: no warning for an empty box
    send(body, files);
    input.focus();
  });

  input.addEventListener("keydown", function (event) {
    // A name picked from the @mention list (mentions.js) has used the Enter already.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.defaultPrevented) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", {cancelable: true}));
    }
  });

  input.addEventListener("input", function () {
    var now = Date.now();
    if (joined && input.value.trim() && now - lastTypingSent > 3000) {
      lastTypingSent = now;
      socket.emit("typing", at());
    }
  });

  // --- Editing, deleting, reporting ----------------------------------------------------------
  function inlineForm(known, className, label, value, submitLabel, onSubmit) {
    var box = document.createElement("form");
    box.className = className;
    var id = className + "-" + known.data.id;
    var lab = document.createElement("label");
    lab.htmlFor = id;
    lab.className = "visually-hidden";
    lab.textContent = label;
    var area = document.createElement("textarea");
    area.id = id;
    area.maxLength = 4000;
    area.value = value;
    var error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    var actions = document.createElement("div");
    actions.className = "actions";
    var save = document.createElement("button");
    save.type = "submit";
    save.className = "button button--small button--primary";
    save.textContent = submitLabel;
    var cancel = button("Cancel", function () { done(); });
    actions.appendChild(save);
    actions.appendChild(cancel);
    box.appendChild(lab);
    box.appendChild(area);
    box.appendChild(error);
    box.appendChild(actions);
    function done() {
      box.remove();
      var first = known.el.querySelector(".chat-msg__tools button");
      if (first) { first.focus(); }
    }
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      onSubmit(area.value, function (answer) {
        if (answer.ok) { done(); } else { error.textContent = errorText(answer); }
      });
    });
    area.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !event.defaultPrevented) { event.preventDefault(); done(); }
    });
    known.el.appendChild(box);
    area.focus();
    return box;
  }

  function ackOrTimeout(callback) {
    return function (err, answer) {
      callback(err ? {ok: false, message: "The chat didn't answer. Try again."} : answer);
    };
  }

  function startEdit(id) {
    var known = messages.get(id);
    if (!known || known.el.querySelector("form")) { return; }
    var box = inlineForm(known, "chat-msg__edit", "Edit your message", known.data.body, "Save", function (body, finish) {
      socket.timeout(10000).emit("edit_message", at({id: id, body: body}), ackOrTimeout(function (answer) {
        if (answer.ok) { addMessages([answer.message]); }
        finish(answer);
      }));
    });
    var area = box.querySelector("textarea");
    if (window.Mentions && input.getAttribute("data-mentions")) {
      area.setAttribute("data-mentions", input.getAttribute("data-mentions"));
      window.Mentions.attach(area);
    }
  }

  function startReport(id) {
    var known = messages.get(id);
    if (!known || known.el.querySelector("form")) { return; }
    var box = inlineForm(known, "chat-msg__report",
      "Why are you reporting this message? Only the circle's moderators see it.", "", "Report",
      function (reason, finish) {
        socket.timeout(10000).emit("report_message", {id: id, reason: reason}, ackOrTimeout(function (answer) {
          finish(answer);
          if (answer.ok) { setStatus("Thank you: the moderators will look at the message you reported.", "ok"); }
        }));
      });
    var hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = "Why are you reporting this message? Only the circle's moderators see your report.";
    box.insertBefore(hint, box.firstChild);
  }

  function deleteMessage(id) {
    var known = messages.get(id);
    if (!known) { return; }
    var question = known.data.author && known.data.author.id === me
      ? "Delete your message for everyone?" : "Delete this message for everyone? This is recorded in the audit log.";
    if (!window.confirm(question)) { return; }
    socket.timeout(10000).emit("delete_message", at({id: id}), ackOrTimeout(function (answer) {
      if (answer.ok) { removeMessage(id); } else { setStatus(errorText(answer), "error"); }
    }));
  }

  // --- Older messages, reading, jumping -------------------------------------------------------
  olderBtn.addEventListener("click", function () {
    if (oldestId === null) { return; }
    olderBtn.disabled = true;
    socket.timeout(10000).emit("load_older", at({before_id: oldestId}), ackOrTimeout(function (answer) {
      olderBtn.disabled = false;
      if (!answer.ok) { setStatus(errorText(answer), "error"); return; }
      addMessages(answer.messages, {prepended: true});
      olderBtn.hidden = !answer.has_older;
    }));
  });

  jumpBtn.addEventListener("click", function () { scrollToBottom(); scheduleRead(); });
  scroller.addEventListener("scroll", function () {
    if (nearBottom()) { jumpBtn.hidden = true; scheduleRead(); }
  });
  document.addEventListener("visibilitychange", scheduleRead);

  // Tell the server how far we've read, when the newest message is on screen.
  function scheduleRead() {
    if (readTimer || newestId === null || newestId <= lastReadSent) { return; }
    readTimer = setTimeout(function () {
      readTimer = null;
      if (!joined || document.visibilityState !== "visible" || !nearBottom()) { return; }
      var upTo = newestId;
      var newest = messages.get(upTo);
      socket.emit("mark_read", at({id: upTo, seq: newest ? newest.data.seq : 0}), function (answer) {
        if (answer && answer.ok) { lastReadSent = upTo; }
      });
    }, 1500);
  }

  // /c/<slug>/chat#message-123 (from a report): show that message once loaded.
  function showTarget() {
    var match = /^#message-(\d+)$/.exec(location.hash);
    if (!match) { return; }
    var el = document.getElementById("message-" + match[1]);
    if (el) {
      el.tabIndex = -1;
      el.scrollIntoView({block: "center"});
      el.focus();
    }
  }
})();
