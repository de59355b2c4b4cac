"""Files in a challenge: on the situation, questions, answers, ideas, the reflection and
updates, through the threads' own attachment path; refused posts keep their uploads."""
import pytest
from sqlalchemy import func, select

from community.challenges.models import Challenge, IdeaDraft
from community.extensions import db
from community.files.models import Attachment
from community.threads.models import Post
from tests.challenges.helpers import make_room, to_phase
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_attachments import post_file


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(FILE_STORAGE_URL=f"file://{tmp_path}/files")
    with app.app_context():
        yield app


def text(response) -> str:
    return response.get_data(as_text=True)


def sent(client, slug, name="Org chart.docx") -> str:
    data = image_bytes("PNG") if name.endswith(".png") else docx_bytes()
    return post_file(client, slug, data, name).get_json()["id"]


def files_on(post_id: int) -> list[str]:
    return list(db.session.scalars(select(Attachment.name).where(Attachment.post_id == post_id)
                                   .order_by(Attachment.id)))


def last_post() -> Post:
    return db.session.scalar(select(Post).order_by(Post.id.desc()).limit(1))


def pickers(page: str) -> int:
    """How many file pickers sit inside a form that posts."""
    count = 0
    for form in page.split("<form")[1:]:
        form = form.split("</form>", 1)[0]
        if 'method="post"' in form and "data-attachments " in form:
            count += 1
    return count


def test_a_new_challenge_takes_the_files_of_its_situation(client, auth, app):
    room = make_room()
    auth.login(room.member)
    form = text(client.get(f"/c/{room.slug}/challenges/new"))
    assert pickers(form) == 1 and "/static/js/attachments.js" in form
    ids = [sent(client, room.slug), sent(client, room.slug, "board.png")]
    response = client.post(f"/c/{room.slug}/challenges/new", data={
        "title": "Restructure", "situation": "See the chart.", "ask": "Which way?",
        "follow_up_days": "28", "questions_unit": "days", "ideas_unit": "days", "attachments": ids})
    assert response.status_code == 302
    challenge = db.session.scalar(select(Challenge).order_by(Challenge.id.desc()).limit(1))
    opening = db.session.scalar(select(Post).where(Post.thread_id == challenge.thread_id))
    assert opening.kind == "situation" and files_on(opening.id) == ["Org chart.docx", "board.png"]
    page = text(client.get(response.location + "?page=1"))
    assert "Org chart.docx" in page.split('id="post-1"', 1)[1]


def test_a_refused_new_challenge_keeps_its_uploads(client, auth, app):
    room = make_room()
    auth.login(room.member)
    upload = sent(client, room.slug)
    response = client.post(f"/c/{room.slug}/challenges/new", data={
        "title": "Restructure", "situation": "See the chart.", "ask": "", "follow_up_days": "28",
        "questions_unit": "days", "ideas_unit": "days", "attachments": [upload]})
    assert response.status_code == 400
    assert f'name="attachments" value="{upload}"' in text(response)


@pytest.mark.parametrize(("phase", "role", "kind"), [
    ("questions", "member", "question"), ("questions", "presenter", "answer"),
    ("ideas", "member", "idea"), ("follow_up", "presenter", "update"),
    ("follow_up", "member", "comment")])
def test_each_composer_carries_the_picker_and_its_post_takes_the_files(client, auth, app,
                                                                       phase, role, kind):
    room = make_room()
    to_phase(room, phase)
    auth.login(room.user(role))
    page = text(client.get(f"/c/{room.slug}/t/{room.challenge.thread_id}?page=1"))
    assert pickers(page) >= 1 and f'id="attach-{kind}-files"' in page
    assert "/static/js/attachments.js" in page
    upload = sent(client, room.slug)
    response = client.post(f"/c/{room.slug}/ch/{room.challenge.id}/post",
                           data={"kind": kind, "body": "With a document", "attachments": [upload]})
    assert response.status_code == 302
    post = last_post()
    assert post.kind == kind and files_on(post.id) == ["Org chart.docx"]


def test_the_reflection_takes_files(client, auth, app):
    room = make_room()
    to_phase(room, "reflection")
    auth.login(room.presenter)
    page = text(client.get(f"/c/{room.slug}/t/{room.challenge.thread_id}?page=1"))
    assert 'id="attach-reflection-files"' in page
    upload = sent(client, room.slug, "plan.png")
    response = client.post(f"/c/{room.slug}/ch/{room.challenge.id}/reflect", data={
        "takeaways": "My plan, drawn", "commitment": ["Meet both leads", ""],
        "commitment_date": ["", ""], "attachments": [upload]})
    assert response.status_code == 302
    post = last_post()
    assert post.kind == "reflection" and files_on(post.id) == ["plan.png"]


def test_a_refused_post_comes_back_as_its_form_with_its_text_and_files(client, auth, app):
    room = make_room()
    auth.login(room.member)
    upload = sent(client, room.slug)
    before = db.session.scalar(select(func.count(Post.id)))
    response = client.post(f"/c/{room.slug}/ch/{room.challenge.id}/post",
                           data={"kind": "question", "body": "x" * 30_000, "attachments": [upload]})
    assert response.status_code == 400
    shown = text(response)
    assert 'role="alert"' in shown and f'name="attachments" value="{upload}"' in shown
    assert 'name="kind" type="hidden" value="question"' in shown and "x" * 100 in shown
    assert pickers(shown) == 1
    assert db.session.scalar(select(func.count(Post.id))) == before
    assert db.session.get(Attachment, db.session.scalar(
        select(Attachment.id).where(Attachment.public_id == upload))).post_id is None


def test_a_refused_reflection_keeps_its_commitments_and_files(client, auth, app):
    room = make_room()
    to_phase(room, "reflection")
    auth.login(room.presenter)
    upload = sent(client, room.slug)
    response = client.post(f"/c/{room.slug}/ch/{room.challenge.id}/reflect", data={
        "takeaways": "What I heard", "commitment": ["Meet both leads"],
        "commitment_date": ["31/12/2027"], "attachments": [upload]})
    assert response.status_code == 400
    shown = text(response)
    assert "a date (use the date picker" in shown and 'value="Meet both leads"' in shown
    assert ">What I heard</textarea>" in shown and f'name="attachments" value="{upload}"' in shown


def test_an_idea_kept_for_later_keeps_words_not_files(client, auth, app):
    room = make_room()
    auth.login(room.member)
    upload = sent(client, room.slug)
    response = client.post(f"/c/{room.slug}/ch/{room.challenge.id}/post", data={
        "kind": "question", "body": "Pilot it", "hold": "1", "attachments": [upload]})
    assert response.status_code == 400
    shown = text(response)
    assert "keeps its words only" in shown and f'name="attachments" value="{upload}"' in shown
    assert "Keep as an idea for later" in shown  # still Questions: they may keep it without the file
    assert db.session.scalar(select(func.count(IdeaDraft.id))) == 0
