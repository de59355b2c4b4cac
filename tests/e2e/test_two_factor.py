"""Two-step sign-in in a real browser: set up an authenticator app from what the page
shows, sign out, and sign back in with a code the "app" (pyotp) makes."""
import re
import time

import pyotp
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD


def test_sign_up_turn_on_an_authenticator_app_and_sign_in_with_a_code(people):
    helen = people("Helen Marsh")
    helen.register()
    page = helen.page
    helen.go("/settings/security")
    expect(page.locator("#second-factor")).to_contain_text("Off.")
    page.click("button:has-text('Set up an authenticator app')")
    page.wait_for_url("**/settings/security/authenticator")
    expect(page.locator(".qr-code svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    app = pyotp.TOTP(secret)
    page.fill("#code", app.now())
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Turn on')")
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    recovery = codes.first.inner_text().strip()
    assert re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", recovery)
    helen.screenshot("two-factor-recovery-codes")

    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/auth/login")
    page.fill("#email", helen.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/auth/second-step")
    # The password alone opens nothing.
    helen.go("/settings/profile")
    page.wait_for_url(re.compile(r"/auth/login"))
    helen.go("/auth/second-step")
    # The code just used to turn the app on works once: the app's next one.
    page.fill("#code", app.at(time.time() + 30))
    page.click("button:has-text('Continue')")
    page.wait_for_url(re.compile(r"/$"))
    helen.go("/settings/security")
    expect(page.locator("#second-factor")).to_contain_text("On.")
    expect(page.locator("#second-factor")).to_contain_text("10 unused recovery codes left")
    expect(page.locator("#sign-ins tbody tr")).to_have_count(1)  # signing up is not signing in
