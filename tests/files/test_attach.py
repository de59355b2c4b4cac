"""Attaching uploads to a place, and discarding a place's files with their bytes."""
import io

import pytest
from sqlalchemy import select

from community.database import begin_write
from community.errors import ActionError
from community.extensions import db
from community.files import actions
from community.files.models import Attachment
from community.threads.actions import start_thread
from community.threads.models import Post
from tests.factories import make_circle
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_attachments import stored_files


def uploaded(user, circle, data=None, name="notes.docx") -> Attachment:
    return actions.upload(user, circle.slug, io.BytesIO(data or docx_bytes()), name)


def test_attach_keeps_the_order_given_and_sets_the_place(app, world):
    circle, owner, _ = world
    first, second = uploaded(owner, circle), uploaded(owner, circle, image_bytes("PNG"), "a.png")
    begin_write()
    attached = actions.attach(owner, circle.id, [second.public_id, first.public_id, second.public_id],
                              meeting_id=None)
    assert [row.public_id for row in attached] == [second.public_id, first.public_id]


def first_post_id(owner, circle) -> int:
    thread = start_thread(owner, circle.slug, "Slides", "From the visit")
    return db.session.scalar(select(Post.id).where(Post.thread_id == thread.id))


@pytest.mark.parametrize("whose", ["someone_else", "other_circle", "attached", "made_up"])
def test_attach_refuses_an_id_that_is_not_the_actors_free_upload(app, world, whose):
    circle, owner, member = world
    post_id = first_post_id(owner, circle)
    mine = uploaded(owner, circle)
    public_id = {"someone_else": lambda: uploaded(member, circle).public_id,
                 "other_circle": lambda: uploaded(owner, make_circle(owner)).public_id,
                 "attached": lambda: uploaded(owner, circle, image_bytes("PNG"), "a.png").public_id,
                 "made_up": lambda: "x" * 22}[whose]()
    if whose == "attached":
        begin_write()
        actions.attach(owner, circle.id, [public_id], post_id=post_id)
        db.session.commit()
    begin_write()
    with pytest.raises(ActionError) as refused:
        actions.attach(owner, circle.id, [mine.public_id, public_id], post_id=post_id)
    assert refused.value.code == "attachment_gone"
    db.session.rollback()
    assert db.session.get(Attachment, mine.id).post_id is None  # nothing attached by a refusal


def test_attach_refuses_more_than_ten_and_odd_input(app, world):
    circle, owner, _ = world
    with pytest.raises(ActionError) as too_many:
        actions.attach(owner, circle.id, [f"id{n}" for n in range(11)], post_id=1)
    assert too_many.value.code == "too_many"
    with pytest.raises(ActionError) as odd:
        actions.attach(owner, circle.id, [{"id": 1}], post_id=1)
    assert odd.value.code == "invalid"
    assert actions.attach(owner, circle.id, None, post_id=1) == []


def test_discard_deletes_rows_and_bytes_after_the_commit_but_keeps_shared_bytes(app, world):
    circle, owner, member = world
    gone, shared_copy = uploaded(owner, circle, image_bytes("PNG"), "a.png"), uploaded(member, circle)
    also_gone = uploaded(owner, circle)  # the same bytes as shared_copy
    assert also_gone.storage_key == shared_copy.storage_key
    before = len(stored_files(app))
    begin_write()
    assert actions.discard(Attachment.id.in_([gone.id, also_gone.id])) == 2
    assert len(stored_files(app)) == before  # nothing goes until the commit
    db.session.commit()
    left = db.session.scalars(select(Attachment.public_id)).all()
    assert left == [shared_copy.public_id]
    assert len(stored_files(app)) == before - 2  # the PNG and its thumbnail; the docx is shared


def test_discard_rolled_back_keeps_everything(app, world):
    circle, owner, _ = world
    kept = uploaded(owner, circle)
    before = len(stored_files(app))
    begin_write()
    actions.discard(Attachment.id == kept.id)
    db.session.rollback()
    assert db.session.get(Attachment, kept.id) is not None
    assert len(stored_files(app)) == before
