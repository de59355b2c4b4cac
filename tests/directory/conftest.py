"""Fixtures of the directory tests: a subject and a viewer in each relation to them."""
from dataclasses import dataclass

import pytest

from community.accounts import actions as accounts
from community.accounts.models import PROFILE_FIELDS
from tests.factories import add_member, make_circle, make_user

MARKERS = {
    "organisation": "Orgmarker Trust", "job_title": "Jobmarker Lead", "location": "Placemarker",
    "bio": "Biomarker words about me", "tags": "Tagmarker",
}


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(FILE_STORAGE_URL=f"file://{tmp_path}/files")
    with app.app_context():
        yield app


@dataclass
class People:
    subject: object   # listed, with a marker in every field
    same: object      # shares a circle with the subject
    other: object     # an alumnus of another circle
    none: object      # signed up, in no circle

    def viewer(self, name: str):
        return None if name == "signed_out" else getattr(self, name)


def set_profile(user, visibility: dict | None = None, **changes):
    """Save the user's profile through the action, as the settings page does."""
    from community.directory.actions import tags_of

    fields = {name: getattr(user, name) for name in
              ("display_name", "organisation", "job_title", "sector", "location", "timezone", "bio")}
    fields.update(tags=", ".join(tags_of(user.id)), open_to_contact=user.open_to_contact,
                  listed_in_directory=user.listed_in_directory,
                  visibility={f: getattr(user, f"{f}_visibility") for f in PROFILE_FIELDS})
    fields.update(changes)
    if visibility:
        fields["visibility"] = {**fields["visibility"], **visibility}
    return accounts.update_profile(user, **fields)


def photo_with_gps() -> bytes:
    """A JPEG whose EXIF names a camera and a place (GPS)."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)})
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(out, "JPEG", exif=exif)
    return out.getvalue()


def set_photo(user, data: bytes, name: str = "photo.jpg"):
    import io

    from community.directory.actions import set_photo as set_it

    set_it(user, io.BytesIO(data), name)


@pytest.fixture
def people(app) -> People:
    subject = make_user("Sam Subject")
    same = make_user("Sally Same")
    circle = make_circle(same, name="Same Circle")
    add_member(circle, subject)
    other = make_user("Olly Other")
    make_circle(other, name="Other Circle")
    none = make_user("Nora None")
    set_profile(subject, organisation=MARKERS["organisation"], job_title=MARKERS["job_title"],
                location=MARKERS["location"], bio=MARKERS["bio"], tags=MARKERS["tags"],
                sector="non_profit", open_to_contact=True, listed_in_directory=True)
    set_photo(subject, photo_with_gps(), "me.jpg")
    return People(subject, same, other, none)
