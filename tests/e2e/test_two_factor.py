"""Two-step sign-in in a real browser: set up an authenticator app from what the page
shows, sign out, and sign back in with a code the "app" (pyotp) makes."""
import re
import time

import pyotp
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, Person
from tests.e2e.test_pages import fit_problems, serious_violations


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


def test_the_two_step_pages_are_accessible_and_fit_a_phone(browser, live_server):
    """The set-up page (QR code and secret), the recovery codes and the second step,
    at phone width: no serious axe findings, no sideways scroll."""
    olu = Person(browser, live_server, "Olu Bankole", width=390, height=844)
    olu.context.close()  # one that lets axe's script in, as test_pages does
    olu.context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True,
                                      timezone_id="Europe/London", locale="en-GB")
    page = olu.page = olu.context.new_page()
    problems = {}

    def check(name):
        found = serious_violations(page) + [f"{k}: {v}" for k, v in fit_problems(page, 390).items()]
        if found:
            problems[name] = found

    try:
        olu.register()
        olu.go("/settings/security")
        check("security")
        page.click("button:has-text('Set up an authenticator app')")
        page.wait_for_url("**/settings/security/authenticator")
        check("authenticator-setup")
        app = pyotp.TOTP(page.locator("#totp-secret").inner_text().strip())
        page.fill("#code", app.now())
        page.fill("#password", PASSWORD)
        page.click("button:has-text('Turn on')")
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        check("recovery-codes")
        page.click("button:has-text('Sign out')")
        page.wait_for_url("**/auth/login")
        page.fill("#email", olu.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/auth/second-step")
        check("second-step")
    finally:
        olu.close()
    assert problems == {}
