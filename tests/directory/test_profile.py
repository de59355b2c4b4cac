"""The profile's new fields: "can help with" tags, the contact flag, the
directory opt-in, each field's audience (saved on /settings/profile) and the
photo (through the files machinery: content-sniffed, EXIF/GPS dropped, thumbnail)."""
import io

import pytest
from PIL import Image
from sqlalchemy import select

from community.accounts.models import PROFILE_FIELDS, User
from community.directory.actions import clean_tags, tags_of
from community.errors import ActionError
from community.extensions import db
from community.files.storage import storage_for
from tests.conftest import AuthActions
from tests.directory.conftest import photo_with_gps, set_photo, set_profile
from tests.factories import make_user


def form(user, **changes) -> dict:
    data = {"display_name": user.display_name, "organisation": user.organisation,
            "job_title": user.job_title, "sector": user.sector, "location": user.location,
            "timezone": user.timezone, "clock": "24", "bio": "", "tags": ""}
    data.update({f"{field}_visibility": "circles" for field in PROFILE_FIELDS})
    data.update(changes)
    return data


def test_tags_are_deduplicated_whatever_their_case_and_keep_their_order():
    assert clean_tags("Budgets, board recruitment; BUDGETS\n  coaching  ,, budgets ") == [
        "Budgets", "board recruitment", "coaching"]
    assert clean_tags("Stra\x00sse, STRASSE") == ["Strasse"]  # NUL dropped, then the same tag


def test_too_many_or_too_long_tags_are_refused():
    with pytest.raises(ActionError, match="at most 10"):
        clean_tags(",".join(f"tag {i}" for i in range(11)))
    with pytest.raises(ActionError, match="at most 40 characters"):
        clean_tags("x" * 41)
    assert len(clean_tags(",".join(f"tag {i}" for i in range(10)) + ", TAG 1")) == 10


def test_the_settings_page_saves_the_directory_settings(app, client):
    user = make_user()
    AuthActions(client).login(user)
    answer = client.post("/settings/profile", data=form(
        user, tags="Budgets, coaching, budgets", open_to_contact="y", listed_in_directory="y",
        organisation_visibility="alumni", bio_visibility="nobody"))
    assert answer.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert tags_of(user.id) == ["Budgets", "coaching"]
    assert user.open_to_contact and user.listed_in_directory
    assert user.organisation_visibility == "alumni" and user.bio_visibility == "nobody"
    assert user.sector_visibility == "circles"
    page = client.get("/settings/profile").get_data(as_text=True)
    assert "Budgets, coaching" in page
    # Unticked boxes turn the flags off again.
    client.post("/settings/profile", data=form(user, tags="Budgets"))
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert not user.listed_in_directory and not user.open_to_contact


@pytest.mark.parametrize("changes, message", [
    ({"tags": ",".join(f"t{i}" for i in range(12))}, "at most 10"),
    ({"tags": "y" * 60}, "at most 40 characters"),
    ({"organisation_visibility": "everyone"}, "Not a valid choice"),
])
def test_bad_directory_settings_are_refused_and_nothing_is_saved(app, client, changes, message):
    user = make_user()
    set_profile(user, tags="Kept")
    AuthActions(client).login(user)
    answer = client.post("/settings/profile", data=form(user, organisation="Changed", **changes))
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    db.session.expire_all()
    assert tags_of(user.id) == ["Kept"]
    assert db.session.get(User, user.id).organisation != "Changed"


def _stored(key: str) -> bytes:
    from flask import current_app

    with storage_for(current_app).open(key) as stream:
        return stream.read()


def test_a_photo_is_stored_without_its_exif_and_served_as_a_thumbnail(app, client):
    user = make_user()
    AuthActions(client).login(user)
    answer = client.post("/settings/profile/photo", data={"photo": (io.BytesIO(photo_with_gps()), "me.jpg")},
                         content_type="multipart/form-data")
    assert answer.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    stored = Image.open(io.BytesIO(_stored(user.photo_key)))
    assert stored.format == "JPEG" and not stored.getexif()
    thumbnail = client.get(f"/people/{user.id}/photo")
    assert thumbnail.status_code == 200
    assert thumbnail.headers["Content-Type"] == "image/webp"
    assert thumbnail.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(thumbnail.data)).format == "WEBP"


@pytest.mark.parametrize("data, name, message", [
    (b"%PDF-1.4 not an image", "me.jpg", "must be a JPEG, PNG, GIF or WebP"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "me.png", "must be a JPEG"),
    (photo_with_gps()[:200], "cut.jpg", "damaged"),
])
def test_what_is_not_a_photo_is_refused_with_a_message(app, client, data, name, message):
    user = make_user()
    AuthActions(client).login(user)
    answer = client.post("/settings/profile/photo", data={"photo": (io.BytesIO(data), name)},
                         content_type="multipart/form-data")
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).photo_key is None


def test_no_file_chosen_says_so(app, client):
    user = make_user()
    AuthActions(client).login(user)
    answer = client.post("/settings/profile/photo", data={}, content_type="multipart/form-data")
    assert answer.status_code == 400 and "Choose a photo" in answer.get_data(as_text=True)


def test_replacing_and_removing_a_photo_deletes_the_bytes_no_one_uses(app, client):
    user = make_user()
    set_photo(user, photo_with_gps())
    first = (user.photo_key, user.photo_thumbnail_key)
    storage = storage_for(app)
    out = io.BytesIO()
    Image.new("RGB", (30, 30), "blue").save(out, "PNG")
    set_photo(user, out.getvalue(), "blue.png")
    assert user.photo_kind == "png"
    assert not any(storage.exists(key) for key in first)
    second = (user.photo_key, user.photo_thumbnail_key)
    AuthActions(client).login(user)
    assert client.post("/settings/profile/photo/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).photo_key is None
    assert not any(storage.exists(key) for key in second)
    assert client.get(f"/people/{user.id}/photo").status_code == 404


def test_the_same_photo_shared_in_a_circle_keeps_its_bytes_when_the_profile_drops_it(app):
    """Bytes are content-addressed: an attachment and a photo may share them."""
    from community.directory.actions import remove_photo
    from community.files import actions as files
    from tests.factories import make_circle

    user = make_user()
    circle = make_circle(user)
    set_photo(user, photo_with_gps())
    key = user.photo_key
    attachment = files.upload(user, circle.slug, io.BytesIO(photo_with_gps()), "same.jpg")
    assert attachment.storage_key == key
    remove_photo(user)
    assert storage_for(app).exists(key)


def test_deleting_the_account_deletes_the_photo(app, client):
    from community.accounts.actions import delete_account

    user = make_user()
    set_photo(user, photo_with_gps())
    keys = (user.photo_key, user.photo_thumbnail_key)
    delete_account(user, "correct horse battery")
    assert not any(storage_for(app).exists(key) for key in keys)
    assert db.session.scalar(select(User).where(User.photo_key == keys[0])) is None


def test_a_photo_over_the_limit_is_refused_with_413(app, client):
    app.config["FILE_MAX_BYTES"] = 2000
    user = make_user()
    AuthActions(client).login(user)
    out = io.BytesIO()
    Image.effect_noise((200, 200), 64).convert("RGB").save(out, "JPEG", quality=95)
    answer = client.post("/settings/profile/photo", data={"photo": (io.BytesIO(out.getvalue()), "big.jpg")},
                         content_type="multipart/form-data")
    assert answer.status_code == 413
    assert "larger than" in answer.get_data(as_text=True)
