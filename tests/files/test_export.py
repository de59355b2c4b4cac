"""The data export holds the files a person shared: a zip of the JSON and the files."""
import io
import json
import os
import zipfile

from community.accounts import export
from community.files.storage import storage_for
from tests.factories import make_circle
from tests.files.builders import image_bytes
from tests.files.test_library import share, uploaded


def open_zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(response.get_data()))


def test_the_zip_holds_the_json_and_every_file_shared(app, client, auth, world):
    circle, owner, member = world
    other = make_circle(member, name="Elsewhere")
    picture = image_bytes("PNG")
    share(member, circle, "post", b"first\n", "notes.txt")
    share(member, circle, "chat", b"second\n", "Notes.txt")  # the same name, but for its case
    share(member, other, "meeting", picture, "board.png")
    share(owner, circle, "post", b"not hers\n", "owners.txt")
    uploaded(member, circle, b"a draft\n", "draft.txt")  # never shared
    auth.login(member)
    response = client.get("/settings/data.zip", buffered=False)
    assert response.is_streamed
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="alumni-circles-data-')
    assert "no-store" in response.headers["Cache-Control"]
    archive = open_zip(response)
    assert archive.testzip() is None
    stored = storage_for(app).open  # what the zip holds is what was stored (the PNG re-encoded)
    slug, elsewhere = circle.slug, other.slug
    assert archive.namelist() == ["data.json", f"files/{slug}/notes.txt", f"files/{slug}/Notes (2).txt",
                                  f"files/{elsewhere}/board.png"]
    assert archive.read(f"files/{slug}/notes.txt") == b"first\n"
    assert archive.read(f"files/{slug}/Notes (2).txt") == b"second\n"
    data = json.loads(archive.read("data.json"))
    assert data["profile"]["email"] == member.email
    files = data["files"]
    assert [(f["name"], f["circle"], f["shared_in"], f["file"]) for f in files] == [
        ("notes.txt", "Berkshire Leaders", "post", f"files/{slug}/notes.txt"),
        ("Notes.txt", "Berkshire Leaders", "chat message", f"files/{slug}/Notes (2).txt"),
        ("board.png", "Elsewhere", "meeting", f"files/{elsewhere}/board.png")]
    assert "storage_key" not in files[0] and files[0]["created_at"].endswith("+00:00")
    board = archive.read(f"files/{elsewhere}/board.png")
    with stored(export.collect(member)["files"][2]["storage_key"]) as original:
        assert board == original.read()
    # The JSON download says the same, without the files.
    alone = json.loads(client.get("/settings/data.json").get_data())
    assert alone["files"] == files
    page = client.get("/settings/data").get_data(as_text=True)
    assert "Files you shared (3)" in page and 'href="/settings/data.zip"' in page
    assert "board.png" in page and "owners.txt" not in page and "draft.txt" not in page


def test_with_nothing_shared_the_zip_holds_the_json(app, client, auth, world):
    _, _, member = world
    auth.login(member)
    archive = open_zip(client.get("/settings/data.zip"))
    assert archive.namelist() == ["data.json"]
    assert json.loads(archive.read("data.json"))["files"] == []
    assert "You haven't shared any files." in client.get("/settings/data").get_data(as_text=True)


def test_a_file_whose_bytes_are_gone_is_listed_but_left_out(app, client, auth, world):
    circle, _, member = world
    gone = share(member, circle, "post", b"lost\n", "lost.txt")
    storage_for(app).delete(gone.storage_key)
    auth.login(member)
    archive = open_zip(client.get("/settings/data.zip"))
    assert archive.namelist() == ["data.json"]
    assert [f["name"] for f in json.loads(archive.read("data.json"))["files"]] == ["lost.txt"]


def test_the_zip_is_made_a_piece_at_a_time(app, world):
    """A large file goes out in many pieces, none near its size: it is never whole in memory."""
    _, _, member = world
    big = os.urandom(3 * 1024 * 1024)  # random: deflate can't shrink it
    data = export.collect(member)
    stored = storage_for(app).save(io.BytesIO(big), len(big))
    row = {"storage_key": stored.key, "file": "files/x/big.bin", "size": len(big),
           "created_at": data["profile"]["joined"]}
    pieces = [len(piece) for piece in export.zip_chunks(b"{}", [row], storage_for(app), chunk=64 * 1024)]
    assert len(pieces) > 40 and max(pieces) < 200 * 1024
    whole = zipfile.ZipFile(io.BytesIO(b"".join(
        export.zip_chunks(b"{}", [row], storage_for(app), chunk=64 * 1024))))
    assert whole.read("files/x/big.bin") == big
