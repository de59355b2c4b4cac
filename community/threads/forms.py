"""Forms for threads."""
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from .actions import BODY_MAX, TITLE_MAX

MARKDOWN_HINT = ("Markdown works: **bold**, _italic_, > quotes, lists, tables, `code`, "
                 "links. Mention someone with @ and their handle.")


class ThreadForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the thread a title."),
                                             Length(max=TITLE_MAX)])
    body = TextAreaField("What's on your mind?", validators=[
        DataRequired("Write something first: the post is empty."), Length(max=BODY_MAX)],
        description=MARKDOWN_HINT)


class ReplyForm(FlaskForm):
    body = TextAreaField("Your reply", validators=[
        DataRequired("Write something first: the reply is empty."), Length(max=BODY_MAX)],
        description=MARKDOWN_HINT)


class EditForm(FlaskForm):
    title = StringField("Title", validators=[Length(max=TITLE_MAX)])
    body = TextAreaField("Post", validators=[
        DataRequired("Write something first: the post is empty."), Length(max=BODY_MAX)])


class ReportForm(FlaskForm):
    reason = TextAreaField("Why should a moderator look at this?", validators=[
        DataRequired("Say briefly what is wrong."), Length(max=1000)])
