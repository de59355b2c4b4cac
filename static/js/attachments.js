// The composer's file picker (templates/files/_picker.html): choose, drop on
// the form or paste an image; each file is uploaded at once to the circle
// (POST /c/<slug>/files, an XHR with a progress bar and Cancel), and each
// finished upload leaves <input type="hidden" name="attachments" value="<id>">
// in the form, which the form's own submit sends. While a file uploads the
// form's submit buttons are disabled. The form's reset clears the picker
// (chat.js resets its form once the server has the message).
// Without this file the picker stays hidden and the form works without files.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector('input[name="csrf_token"]') ||
      document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  function sizeText(bytes) {
    var units = [["GB", 1073741824], ["MB", 1048576], ["KB", 1024]];
    for (var i = 0; i < units.length; i++) {
      if (bytes >= units[i][1]) {
        return (bytes / units[i][1]).toPrecision(3).replace(/\.?0+$/, "") + " " + units[i][0];
      }
    }
    return bytes + " bytes";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // An answer's message: our JSON {error, message}, or words for what a proxy said.
  function refusal(xhr) {
    try {
      var answer = JSON.parse(xhr.responseText);
      if (answer && answer.message) { return answer.message; }
    } catch (e) { /* not ours: a proxy's page */ }
    if (xhr.status === 413) { return "This file is too large to share."; }
    if (xhr.status === 404) { return "You can't share files in this circle."; }
    if (xhr.status === 0) { return "The upload was cut off. Check your connection and try again."; }
    return "The file could not be shared (error " + xhr.status + "). Please try again.";
  }

  function Picker(root, form) {
    this.root = root;
    this.form = form;
    this.url = root.getAttribute("data-upload-url");
    this.max = parseInt(root.getAttribute("data-max"), 10);
    if (isNaN(this.max)) { this.max = 10; }
    this.list = root.querySelector("[data-attachments-list]");
    this.error = root.querySelector("[data-attachments-error]");
    this.input = root.querySelector("[data-attachments-input]");
    this.running = [];
    this.bind();
  }

  Picker.prototype.bind = function () {
    var self = this;
    var bar = this.root.querySelector("[data-attachments-bar]");
    if (bar) { bar.hidden = this.max <= 0; }
    // Uploads a refused form kept (rendered by the server): Remove works on them too.
    this.list.querySelectorAll("[data-attachment]").forEach(function (item) {
      var button = item.querySelector("[data-attachment-remove]");
      if (button) {
        button.hidden = false;
        button.addEventListener("click", function () { self.remove(item); });
      }
    });
    this.input.addEventListener("change", function () {
      self.add(self.input.files);
      self.input.value = "";  // the same file may be chosen again
    });
    this.form.addEventListener("dragover", function (event) {
      if (!self.carriesFiles(event)) { return; }
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      self.form.classList.add("is-dropping");
    });
    this.form.addEventListener("dragleave", function (event) {
      if (!self.form.contains(event.relatedTarget)) { self.form.classList.remove("is-dropping"); }
    });
    this.form.addEventListener("drop", function (event) {
      self.form.classList.remove("is-dropping");
      if (!self.carriesFiles(event)) { return; }
      event.preventDefault();
      self.add(event.dataTransfer.files);
    });
    this.form.addEventListener("paste", function (event) {
      if (!event.target.matches || !event.target.matches("textarea")) { return; }
      var images = self.pastedImages(event.clipboardData);
      if (!images.length) { return; }  // text is pasted as usual
      event.preventDefault();
      self.add(images);
    });
    this.form.addEventListener("submit", function (event) {
      if (self.running.length) {
        event.preventDefault();
        self.say("Wait for the files to finish uploading, or cancel them.");
      }
    });
    this.form.addEventListener("reset", function () { self.clear(); });
  };

  Picker.prototype.carriesFiles = function (event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  };

  Picker.prototype.pastedImages = function (data) {
    var found = [];
    if (!data || !data.items) { return found; }
    Array.prototype.forEach.call(data.items, function (item) {
      if (item.kind !== "file" || item.type.indexOf("image/") !== 0) { return; }
      var file = item.getAsFile();
      if (!file) { return; }
      var extension = item.type.split("/")[1].replace(/[^a-z0-9]/g, "") || "png";
      var stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-");
      // A pasted screenshot is named "image.png" by every browser: give it a telling name.
      var name = file.name && file.name !== "image." + extension ? file.name : "pasted-" + stamp + "." + extension;
      try { file = new File([file], name, { type: file.type }); } catch (e) { /* keep the browser's name */ }
      found.push(file);
    });
    return found;
  };

  // Files that count towards the limit: uploading or uploaded, not refused ones.
  Picker.prototype.held = function () {
    return this.list.querySelectorAll("[data-attachment]:not(.attachment--refused)").length;
  };

  Picker.prototype.say = function (message) {
    this.error.textContent = message || "";
    this.error.hidden = !message;
  };

  Picker.prototype.add = function (files) {
    var room = this.max - this.held();
    var chosen = Array.prototype.slice.call(files || []);
    this.say("");
    if (chosen.length > room) {
      this.say(room <= 0
        ? "You can attach at most " + this.max + " files. Remove one to add another."
        : "You can attach at most " + this.max + " files: " + (chosen.length - room) +
          (chosen.length - room === 1 ? " was" : " were") + " left out.");
      chosen = chosen.slice(0, Math.max(room, 0));
    }
    chosen.forEach(this.upload, this);
  };

  Picker.prototype.item = function (file) {
    var item = element("li", "attachment attachment--uploading");
    item.setAttribute("data-attachment", "");
    // The name's extension stands for the kind until the server says (and shows a thumbnail).
    var extension = /\.([a-z0-9]{1,4})$/i.exec(file.name);
    var icon = element("span", "attachment__icon", extension ? extension[1].toUpperCase() : "FILE");
    icon.setAttribute("aria-hidden", "true");
    var about = element("span", "attachment__about");
    about.appendChild(element("span", "attachment__name", file.name));
    about.appendChild(document.createTextNode(" "));
    about.appendChild(element("span", "meta attachment__size", sizeText(file.size)));
    var progress = element("progress", "attachment__progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", "Uploading " + file.name);
    var message = element("p", "error attachment__error");
    message.hidden = true;
    var button = element("button", "button button--small attachment__action", "Cancel");
    button.type = "button";
    button.setAttribute("aria-label", "Cancel uploading " + file.name);
    item.appendChild(icon);
    item.appendChild(about);
    item.appendChild(progress);
    item.appendChild(message);
    item.appendChild(button);
    this.list.appendChild(item);
    return { item: item, icon: icon, progress: progress, message: message, button: button };
  };

  Picker.prototype.upload = function (file) {
    var self = this;
    var parts = this.item(file);
    var xhr = new XMLHttpRequest();
    var body = new FormData();
    body.append("file", file, file.name);
    xhr.open("POST", this.url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken(this.form));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        parts.progress.value = Math.round(event.loaded / event.total * 100);
        parts.progress.textContent = parts.progress.value + "%";
      }
    });
    xhr.addEventListener("load", function () {
      self.finished(xhr);
      var answer = null;
      if (xhr.status === 201) {
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = null; }
      }
      if (answer && answer.id) { self.done(parts, answer); } else { self.refused(parts, refusal(xhr)); }
    });
    xhr.addEventListener("error", function () {
      self.finished(xhr);
      self.refused(parts, refusal(xhr));
    });
    xhr.addEventListener("abort", function () { self.finished(xhr); });
    parts.button.addEventListener("click", function () {
      if (parts.item.classList.contains("attachment--uploading")) { xhr.abort(); }
      self.remove(parts.item);
    });
    this.running.push(xhr);
    this.busy();
    xhr.send(body);
  };

  Picker.prototype.done = function (parts, answer) {
    var item = parts.item;
    item.classList.remove("attachment--uploading");
    item.classList.add("attachment--done");
    parts.progress.remove();
    if (answer.thumbnail_url) {
      var image = element("img", "attachment__thumb");
      image.src = answer.thumbnail_url;
      image.alt = "";
      item.replaceChild(image, parts.icon);
    }
    // The stored name (cleaned by the server) is the one the post will show.
    item.querySelector(".attachment__name").textContent = answer.name;
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "attachments";
    hidden.value = answer.id;
    item.appendChild(hidden);
    parts.button.textContent = "Remove";
    parts.button.setAttribute("aria-label", "Remove " + answer.name);
  };

  Picker.prototype.refused = function (parts, message) {
    var item = parts.item;
    item.classList.remove("attachment--uploading");
    item.classList.add("attachment--refused");
    parts.progress.remove();
    parts.message.textContent = message;
    parts.message.hidden = false;
    parts.message.setAttribute("role", "alert");
    parts.button.textContent = "Dismiss";
    parts.button.setAttribute("aria-label", "Dismiss the message about " +
      item.querySelector(".attachment__name").textContent);
  };

  Picker.prototype.remove = function (item) {
    var next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    this.say("");
    // Keep the keyboard in the list, or take it back to the picker.
    var target = next && next.querySelector("button") || this.input;
    if (target && !target.hidden) { target.focus(); }
  };

  Picker.prototype.finished = function (xhr) {
    var at = this.running.indexOf(xhr);
    if (at !== -1) { this.running.splice(at, 1); }
    this.busy();
  };

  // Submit buttons wait for the uploads: a post sent now would go without them.
  Picker.prototype.busy = function () {
    var uploading = this.running.length > 0;
    this.form.querySelectorAll('button[type="submit"], button:not([type]), input[type="submit"]')
      .forEach(function (button) {
        if (uploading) {
          if (!button.disabled) { button.disabled = true; button.setAttribute("data-attachments-disabled", ""); }
        } else if (button.hasAttribute("data-attachments-disabled")) {
          button.disabled = false;
          button.removeAttribute("data-attachments-disabled");
        }
      });
    this.root.setAttribute("aria-busy", uploading ? "true" : "false");
  };

  Picker.prototype.clear = function () {
    this.running.slice().forEach(function (xhr) { xhr.abort(); });
    this.running = [];
    this.busy();
    while (this.list.firstChild) { this.list.removeChild(this.list.firstChild); }
    this.say("");
  };

  function start(root) {
    var form = root.closest("form");
    if (!form || !window.FormData || root.pickerReady) { return; }
    root.pickerReady = true;
    root.picker = new Picker(root, form);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-attachments]").forEach(start);
  });
  // For composers added to the page later (chat): AttachmentPicker.start(element).
  window.AttachmentPicker = { start: start };
})();
