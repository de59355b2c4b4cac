"""A programme lead starts a cohort, uploads a CSV of twenty, previews and sends;
an invited person follows the emailed link and joins."""
import re
import sqlite3

from playwright.sync_api import expect

from tests.e2e import conftest as e2e
from tests.e2e.test_journeys import join_via_signup


def live_db():
    return sqlite3.connect(e2e.LIVE_DATABASE_URL.removeprefix("sqlite:///"))


def make_programme_staff(email: str) -> None:
    """What a site admin does on /admin/programme-staff (tested in tests/programmes),
    done in the database so this test needs no admin with a second factor."""
    with live_db() as conn:
        conn.execute("UPDATE users SET is_programme_staff = 1 WHERE email = ?", (email,))


def emailed_link(email: str) -> str:
    with live_db() as conn:
        body = conn.execute("SELECT text_body FROM outbox_mails WHERE to_address = ? "
                            "ORDER BY id DESC LIMIT 1", (email,)).fetchone()[0]
    return re.search(r"https?://\S+/invite/[\w-]+", body).group(0)


def test_a_lead_invites_a_cohort_of_twenty_and_one_joins(people):
    lead, helen = people("Lena Lead", "Helen Marsh")
    lead.register(organisation="Berkshire Leadership Trust", job_title="Programme Lead")
    make_programme_staff(lead.email)
    page = lead.page

    lead.go("/programmes/")
    expect(page.get_by_text("No programmes yet")).to_be_visible()
    page.click("text=Start a programme")
    page.fill("#name", "Berkshire Leadership")
    page.get_by_label("Place (optional)").fill("Reading")
    page.get_by_label("First year").fill("2020")
    page.click("button:has-text('Start programme')")
    expect(page.locator("h1")).to_have_text("Berkshire Leadership")

    page.click("text=Start a cohort's circle")
    page.get_by_label("Cohort year").fill("2025")
    page.fill("#name", "Thames Valley Leaders 2025")
    page.click("button:has-text('Create circle')")
    page.wait_for_url("**/manage/invitations/bulk")
    slug = re.search(r"/c/([\w-]+)/", page.url).group(1)

    rows = ["name,email,organisation", f"Helen Marsh,{helen.email},Kennet Valley GP Practice"]
    rows += [f"Member {i},member{i}.{slug}@example.org,Organisation {i}" for i in range(2, 21)]
    page.set_input_files("#csv_file", files=[{
        "name": "cohort.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode()}])
    page.click("button:has-text('Preview')")
    expect(page.locator(".preview-counts")).to_contain_text("20 will be invited")
    expect(page.get_by_text(helen.email)).to_be_visible()
    lead.screenshot("cohort-invites-preview")
    page.click("button:has-text('Send 20 invitations')")
    page.wait_for_url("**/manage/invitations/people")
    expect(page.locator("[data-testid=invitation-counts]")).to_contain_text(
        "0 accepted · 20 pending · 0 bounced")

    helen.page.goto(emailed_link(helen.email))
    expect(helen.page.locator("h1")).to_have_text("Thames Valley Leaders 2025")
    join_via_signup(helen)
    helen.page.click("button:has-text('Join')")
    helen.page.wait_for_url(f"**/c/{slug}/")
    expect(helen.page.locator(".circle-header__name")).to_have_text("Thames Valley Leaders 2025")

    lead.go(f"/c/{slug}/manage/invitations")
    expect(page.locator("[data-testid=invitation-counts]")).to_contain_text(
        "1 accepted · 19 pending · 0 bounced")
