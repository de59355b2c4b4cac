"""Passkeys in real Chromium, with its virtual authenticator (DevTools protocol
WebAuthn.addVirtualAuthenticator: CTAP2, internal, resident keys, user
verification): add a passkey on the settings page, sign out, sign in with it.

Browsers refuse an IP address as the relying party's id, so this server's
SITE_URL is http://localhost:<port> (the shared live_server uses 127.0.0.1);
http://localhost is a secure context, as WebAuthn needs.
"""
import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import PASSWORD, ROOT, Person, _free_port, _require_chromium, _wait_for


@pytest.fixture(scope="module")
def localhost_server(tmp_path_factory):
    """`python app.py` on a free loopback port, linked as http://localhost:<port>."""
    _require_chromium()
    home = tmp_path_factory.mktemp("passkeys")
    port = _free_port()
    base = f"http://localhost:{port}"
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "DATABASE_URL": f"sqlite:///{home}/live.sqlite3", "SECRET_KEY": "e2e-" + "p" * 40,
           "RATELIMIT_ENABLED": "false", "SITE_URL": base,
           "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "FILE_STORAGE_URL": f"file://{home}/files"}
    for key in ("SOCKETIO_ASYNC_MODE", "SOCKETIO_MESSAGE_QUEUE", "MAIL_SERVER"):
        env.pop(key, None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    with open(home / "server.log", "w") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            _wait_for(f"http://127.0.0.1:{port}/healthz")
            yield base
        finally:
            server.terminate()
            server.wait(10)
    output = (home / "server.log").read_text()
    assert "Traceback" not in output, output[-3000:]


def virtual_authenticator(page) -> tuple:
    """Chromium's virtual platform authenticator for this page (CDP session, id)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    made = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})
    return cdp, made["authenticatorId"]


def test_add_a_passkey_sign_out_and_sign_in_with_it(browser, localhost_server):
    helen = Person(browser, localhost_server, "Helen Marsh")
    try:
        page = helen.page
        cdp, authenticator = virtual_authenticator(page)
        helen.register()
        helen.go("/settings/security/passkeys")
        page.fill("#passkey-name", "Work laptop")
        page.fill("#passkey-password", PASSWORD)
        page.click("form[data-passkey=register] button[type=submit]")
        page.wait_for_selector("text=Your passkey “Work laptop” is added")
        # Her first second factor: its ten recovery codes, shown this once.
        assert page.locator("#recovery-codes li").count() == 10
        page.click("text=I have kept them")
        helen.go("/settings/security/passkeys")
        assert page.locator("[data-passkey-name]").all_inner_texts() == ["Work laptop"]
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert [c["isResidentCredential"] for c in stored["credentials"]] == [True]
        helen.screenshot("passkeys-settings")

        page.click("button:has-text('Sign out')")
        page.wait_for_selector("text=You have signed out")
        assert "/auth/login" in page.url
        page.click("button:has-text('Sign in with a passkey')")
        page.wait_for_url(localhost_server + "/")
        assert page.locator("a.brand").is_visible()
        assert page.locator("button:has-text('Sign out')").is_visible()
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
        assert stored["credentials"][0]["signCount"] >= 1

        # With her password, the passkey is the second step.
        page.click("button:has-text('Sign out')")
        page.fill("#email", helen.email)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_url("**/auth/second-step")
        page.click("button:has-text('Use a passkey')")
        page.wait_for_url(localhost_server + "/")
        assert page.locator("button:has-text('Sign out')").is_visible()

        # Removing it asks first, and the last factor's question says so.
        helen.go("/settings/security/passkeys")
        page.click("form[data-confirm] button:has-text('Remove')")
        page.wait_for_selector("text=You have no second factor now")
        assert helen.dialogs and "only second factor" in helen.dialogs[-1]
        assert page.locator("[data-passkey-name]").count() == 0
        assert helen.errors == []
    finally:
        helen.close()
