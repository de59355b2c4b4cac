// Passkeys (WebAuthn): adding one in settings, and signing in with one.
// Markup: <form data-passkey="register|sign_in|second_step" data-options-url="...">
// with a hidden input name="credential" and a <p data-passkey-error hidden>.
// On submit: POST the form to data-options-url (JSON options back, or
// {message} when refused), run the browser's ceremony, put the answer in
// `credential` as JSON and submit the form for real. The server checks all of
// it (community/accounts/passkeys.py); nothing here is trusted.
(function () {
  "use strict";

  if (window.passkeysLoaded) { return; }  // the partials may each include this file
  window.passkeysLoaded = true;

  // --- base64url <-> ArrayBuffer (WebAuthn's JSON encoding) ---------------------------------
  function toBuffer(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = window.atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: toBuffer(d.id), transports: d.transports };
    });
  }

  // The server's JSON options as navigator.credentials wants them.
  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return { publicKey: options };
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return { publicKey: options };
  }

  // The browser's answer as JSON (PublicKeyCredential.toJSON's shape).
  function credentialJSON(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      if (r.userHandle) { response.userHandle = toBase64url(r.userHandle); }
    }
    return JSON.stringify({
      id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(), response: response
    });
  }

  // --- The ceremony ---------------------------------------------------------------------------
  function say(form, message) {
    var error = form.querySelector("[data-passkey-error]");
    error.textContent = message;
    error.hidden = !message;
  }

  function fetchOptions(form) {
    return fetch(form.getAttribute("data-options-url"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (answer) {
      return answer.json().catch(function () { return {}; }).then(function (body) {
        if (!answer.ok) {
          throw new Error(body.message || "Something went wrong. Reload the page and try again.");
        }
        return body;
      });
    });
  }

  function ceremony(form, options) {
    if (form.getAttribute("data-passkey") === "register") {
      return navigator.credentials.create(creationOptions(options));
    }
    return navigator.credentials.get(requestOptions(options));
  }

  function start(form, button) {
    say(form, "");
    button.disabled = true;
    fetchOptions(form)
      .then(function (options) { return ceremony(form, options); })
      .then(function (credential) {
        if (!credential) { throw new Error("No passkey was chosen."); }
        form.querySelector("input[name=credential]").value = credentialJSON(credential);
        // The password has done its job (server side, with the options); don't send it twice.
        var password = form.querySelector("input[name=password]");
        if (password) { password.value = ""; }
        form.submit();
      })
      .catch(function (err) {
        button.disabled = false;
        if (err && err.name === "NotAllowedError") {
          say(form, "The passkey request was cancelled or timed out. Try again.");
        } else if (err && err.name === "InvalidStateError") {
          say(form, "That device already has a passkey for this account.");
        } else {
          say(form, (err && err.message) || "Your browser couldn't use a passkey.");
        }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      var button = form.querySelector("button[type=submit]");
      if (!supported) {
        if (form.getAttribute("data-passkey") === "register") {
          say(form, "This browser can't make passkeys. Try a recent Chrome, Edge, Firefox or Safari.");
          button.disabled = true;
        }
        return;
      }
      form.hidden = false;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        start(form, button);
      });
    });
  });
})();
