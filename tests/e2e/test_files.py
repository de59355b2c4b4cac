"""Files through the thread composer in a real browser (issue 21): Amara drops a
photo and a document on the form and pastes a screenshot into the text, watches
the uploads' progress on a slow line, cancels one, sees the previews, and posts;
Helen, another member, sees the files and downloads the document byte for byte;
Olive, signed in but in no circle, gets a 404 for the very same URLs."""
import base64
import io
import re

from PIL import Image
from playwright.sync_api import expect

from tests.e2e.test_journeys import join_by_invite, start_circle
from tests.files.builders import docx_bytes, image_bytes, noisy_jpeg

# Given the bytes (base64), a name and a type, an event's DataTransfer holding that file.
FILES = """([items]) => {
  const transfer = new DataTransfer();
  for (const [data, name, type] of items) {
    const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, {type}));
  }
  return transfer;
}"""

PASTE = """([target, transfer]) => {
  const event = new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true, cancelable: true});
  target.dispatchEvent(event);
}"""


def transfer(page, *files):
    return page.evaluate_handle(FILES, [[(base64.b64encode(data).decode(), name, kind)
                                         for data, name, kind in files]])


def drop(page, *files) -> None:
    """Drop the files on the thread form, as a file dragged from the desktop would be."""
    handle = transfer(page, *files)
    form = page.locator("form:has([data-attachments])")
    form.dispatch_event("dragenter", {"dataTransfer": handle})
    form.dispatch_event("dragover", {"dataTransfer": handle})
    form.dispatch_event("drop", {"dataTransfer": handle})


def slow_uploads(person, bytes_per_second: int) -> None:
    """Throttle what the page sends, so an upload is seen in progress."""
    cdp = person.context.new_cdp_session(person.page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": bytes_per_second})


def test_drop_paste_progress_preview_and_download_by_members_only(people):
    amara, helen, olive = people("Amara Okafor", "Helen Marsh", "Olive Outside")
    amara.register(display_name="Dr Amara Okafor")
    slug = start_circle(amara, "Sharing Leaders")
    join_by_invite(amara, helen, slug)
    olive.register()

    amara.go(f"/c/{slug}/threads/new")
    page = amara.page
    page.fill("#title", "From the visit")
    page.fill("#body", "The whiteboard and the notes.")
    post = page.get_by_role("button", name="Post thread")
    photo, notes = noisy_jpeg((900, 700)), docx_bytes()
    assert len(photo) > 300_000
    slow_uploads(amara, 200_000)

    # Dropped: each file gets its own row with a progress bar, and posting waits.
    drop(page, (photo, "whiteboard.jpg", "image/jpeg"), (notes, "visit notes.docx", ""))
    files = page.get_by_role("list", name="Files to attach").locator("[data-attachment]")
    expect(files).to_have_count(2)
    uploading = files.nth(0)
    expect(uploading.locator("progress")).to_be_visible()
    page.wait_for_function("p => p.value > 0 && p.value < 100",
                           arg=uploading.locator("progress").element_handle())
    expect(post).to_be_disabled()

    # A third file, dropped and cancelled while it uploads, leaves nothing behind.
    drop(page, (noisy_jpeg((800, 600)), "wrong photo.jpg", "image/jpeg"))
    expect(files).to_have_count(3)
    files.nth(2).get_by_role("button", name="Cancel uploading wrong photo.jpg").click()
    expect(files).to_have_count(2)

    # Done: the photo's preview is the server's thumbnail, the document names itself.
    expect(files.locator("progress")).to_have_count(0, timeout=20_000)
    expect(post).to_be_enabled()
    preview = files.nth(0).locator("img.attachment__thumb")
    expect(preview).to_have_attribute("src", re.compile(f"^/c/{slug}/files/[\\w-]{{22}}/thumbnail$"))
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
    expect(files.nth(1).locator(".attachment__name")).to_have_text("visit notes.docx")

    # Pasted into the text: a screenshot, named for when it was taken, with its preview.
    screenshot = image_bytes("PNG", size=(320, 200), color="navy")
    page.evaluate(PASTE, [page.locator("#body").element_handle(),
                          transfer(page, (screenshot, "image.png", "image/png"))])
    expect(files).to_have_count(3)
    expect(files.nth(2).locator(".attachment__name")).to_have_text(
        re.compile(r"^pasted-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.png$"))
    expect(files.nth(2).locator("img.attachment__thumb")).to_be_visible(timeout=20_000)
    assert page.input_value("#body") == "The whiteboard and the notes."  # no text pasted
    post.click()
    page.wait_for_url(f"**/c/{slug}/t/**")

    # Helen sees them on the thread and downloads the document as it was shared.
    helen.page.goto(page.url)
    shown = helen.page.get_by_role("list", name="Attached files").first.locator("li")
    expect(shown).to_have_count(3)
    thumbnails = helen.page.locator(".file--image img")
    expect(thumbnails).to_have_count(2)
    for index in range(2):
        helen.page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                                     arg=thumbnails.nth(index).element_handle())
    with helen.page.expect_download() as waiting:
        helen.page.get_by_role("link", name="visit notes.docx").click()
    download = waiting.value
    assert download.suggested_filename == "visit notes.docx"
    with open(download.path(), "rb") as saved:
        assert saved.read() == notes
    photo_url = helen.page.locator(".file--image a").first.get_attribute("href")
    shown_photo = helen.page.request.get(helen.base + photo_url)
    assert shown_photo.status == 200
    assert Image.open(io.BytesIO(shown_photo.body())).size == (900, 700)
    document_url = helen.page.get_by_role("link", name="visit notes.docx").get_attribute("href")

    # Olive, in no circle, opens the same links in her browser: not found.
    for url in (document_url, photo_url, photo_url.rsplit("/", 1)[0] + "/thumbnail"):
        answer = olive.go(url)
        assert answer.status == 404, url
        assert notes[:20] not in answer.body()
